#!/usr/bin/env bash
# Makes sure a Docker engine answers; starts one only when none does.
# Usage: source tests/support/engine.sh; ensure_engine; ... ; stop_started_engine
# Only the daemon this script started is ever stopped. Also: buildkit_build, for the test tooling.

STARTED_DOCKERD_PID=""

# shellcheck source=tests/support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

ensure_engine() {
  if docker info >/dev/null 2>&1; then
    echo "engine: using the running Docker engine"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "engine: installing docker.io (no engine answers and no dockerd is installed)"
    apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null || return 1
    # On a systemd machine the package starts the engine itself.
    if docker info >/dev/null 2>&1; then
      echo "engine: the docker.io package started one"
      return 0
    fi
  fi
  echo "engine: starting dockerd"
  dockerd --host unix:///var/run/docker.sock >/tmp/dimtensor-up-dockerd.log 2>&1 &
  STARTED_DOCKERD_PID=$!
  wait_until 60 1 quiet docker info && return 0
  echo "engine: dockerd did not answer within 60 s; its log:" >&2
  tail -n 30 /tmp/dimtensor-up-dockerd.log >&2
  return 1
}

# `docker build` with BuildKit: Debian's 20.10 CLI has it built in, a newer CLI here may lack buildx.
buildkit_build() {
  local cli=docker
  [ -x /usr/bin/docker ] && cli=/usr/bin/docker
  DOCKER_BUILDKIT=1 "$cli" build "$@"
}

stop_started_engine() {
  [ -n "$STARTED_DOCKERD_PID" ] || return 0
  echo "engine: stopping the dockerd this run started (pid $STARTED_DOCKERD_PID)"
  kill "$STARTED_DOCKERD_PID" 2>/dev/null || true
  wait "$STARTED_DOCKERD_PID" 2>/dev/null || true
  STARTED_DOCKERD_PID=""
}
