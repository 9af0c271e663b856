#!/usr/bin/env bash
# TEST TOOLING ONLY (as root). The other engines researchers have, beside the rootful Docker the
# tests already use: rootless Docker and rootless Podman for a test user (uid 4321, the tests'
# non-root user, with sub-UIDs), and rootful Podman. Images come from the rootful engine by
# save/load (no registry). A CDI spec that stands in for NVIDIA's lets the Podman GPU path run
# without a GPU (it injects marker variables, no device).
#   tests/support/engines.sh start IMAGE…   # prints NAME=ADDRESS lines for the tests
#   tests/support/engines.sh stop
set -euo pipefail
# shellcheck source=tests/support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"
uid=4321
user=dtu-engines
run=/run/user/$uid
state=/run/dimtensor-up-engines
cdi_spec=/etc/cdi/dimtensor-up-test-stand-in.yaml
# From / : an engine outlives the checkout that started it, and conmon fails in a deleted folder.
as_user() { setsid runuser -u "$user" -- env -C / XDG_RUNTIME_DIR=$run HOME="$home" PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

wait_for() { # SOCKET LOG
  wait_until 60 1 quiet docker -H "unix://$1" version && return 0
  echo "engines: nothing answers on $1; its log:" >&2; tail -n 20 "$2" >&2; return 1
}

case "${1:-}" in
  start)
    shift
    missing=()
    for tool in podman rootlesskit slirp4netns newuidmap catatonit; do command -v "$tool" >/dev/null || missing+=("$tool"); done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "engines: installing podman catatonit rootlesskit slirp4netns uidmap" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman catatonit rootlesskit slirp4netns uidmap >/dev/null
    fi
    existing=$(getent passwd "$uid" | cut -d: -f1 || true)
    if [ -z "$existing" ]; then
      groupadd -g "$uid" "$user" 2>/dev/null || true
      useradd -u "$uid" -g "$uid" -m -d /home/$user -s /bin/bash "$user"
    else
      user=$existing
    fi
    home=$(getent passwd "$uid" | cut -d: -f6)
    grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$user"
    # What Debian's Podman 4.3 needs in a container-less sandbox like CI's (verified here):
    # runc and raised ulimits, and overlay storage for the rootless user (else it picks vfs).
    [ -f /etc/containers/containers.conf ] || printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n' >/etc/containers/containers.conf
    mkdir -p "$home/.config/containers"
    [ -f "$home/.config/containers/storage.conf" ] || printf '[storage]\ndriver = "overlay"\n' >"$home/.config/containers/storage.conf"
    chown -R "$uid:$uid" "$home/.config"
    # slirp4netns (rootless networking) opens the tun device as the user.
    [ -w /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 666 /dev/net/tun
    mkdir -p "$run" "$state" && chown "$uid:$uid" "$run" && chmod 700 "$run"

    if ! docker -H "unix://$run/docker.sock" version >/dev/null 2>&1; then
      as_user /usr/share/docker.io/contrib/dockerd-rootless.sh --host "unix://$run/docker.sock" \
        >"$state/rootless-docker.log" 2>&1 </dev/null &
      echo $! >"$state/rootless-docker.pid"
    fi
    if ! docker -H "unix://$run/podman/podman.sock" version >/dev/null 2>&1; then
      as_user sh -c "mkdir -p $run/podman && exec podman system service --time=0 unix://$run/podman/podman.sock" \
        >"$state/rootless-podman.log" 2>&1 </dev/null &
      echo $! >"$state/rootless-podman.pid"
    fi
    if ! docker -H unix:///run/podman/podman.sock version >/dev/null 2>&1; then
      mkdir -p /run/podman
      setsid env -C / podman system service --time=0 unix:///run/podman/podman.sock >"$state/rootful-podman.log" 2>&1 </dev/null &
      echo $! >"$state/rootful-podman.pid"
    fi
    wait_for "$run/docker.sock" "$state/rootless-docker.log"
    wait_for "$run/podman/podman.sock" "$state/rootless-podman.log"
    wait_for /run/podman/podman.sock "$state/rootful-podman.log"
    # The tests' user reaches rootful Podman as a docker-group member reaches Docker.
    chgrp docker /run/podman/podman.sock && chmod 660 /run/podman/podman.sock

    mkdir -p /etc/cdi
    cat >"$cdi_spec" <<'EOF'
# TEST STAND-IN for the spec `nvidia-ctk cdi generate` writes: no GPU, only marker variables.
cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    env: ["DTU_CDI_DEVICE=0"]
- name: all
  containerEdits:
    env: ["DTU_CDI_DEVICE=all"]
containerEdits:
  env: ["DTU_CDI_SPEC=stand-in"]
EOF
    for sock in "$run/docker.sock" "$run/podman/podman.sock" /run/podman/podman.sock; do
      for image in "$@"; do
        want=$(docker image inspect -f '{{.Id}}' "$image")
        have=$(docker -H "unix://$sock" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
        [ "$want" = "$have" ] || docker save "$image" | docker -H "unix://$sock" load -q >/dev/null
      done
    done
    echo "DTU_ROOTLESS_DOCKER_HOST=unix://$run/docker.sock"
    echo "DTU_ROOTLESS_PODMAN_HOST=unix://$run/podman/podman.sock"
    echo "DTU_ROOTFUL_PODMAN_HOST=unix:///run/podman/podman.sock"
    echo "DTU_ENGINES_RUNTIME_DIR=$run"
    ;;
  stop)
    for name in rootless-docker rootless-podman rootful-podman; do
      [ -f "$state/$name.pid" ] || continue
      # setsid made each its own process group: end the whole group.
      kill -- -"$(cat "$state/$name.pid")" 2>/dev/null || kill "$(cat "$state/$name.pid")" 2>/dev/null || true
      rm -f "$state/$name.pid"
    done
    # The rootless engines leave their own session (rootlesskit, Podman's user namespace): every
    # process of the test user goes, so no engine from an earlier run is found answering later.
    if id "$user" >/dev/null 2>&1; then
      pkill -u "$user" 2>/dev/null || true
      wait_until 10 0.5 gone pgrep -u "$user" || true
      pkill -9 -u "$user" 2>/dev/null || true
    fi
    rm -f "$cdi_spec"
    ;;
  *) echo "usage: $0 start IMAGE… | stop" >&2; exit 2 ;;
esac
