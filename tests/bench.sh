#!/usr/bin/env bash
# Benchmarks (CONTRIBUTING.md, "Benchmarks"): builds the reference images, then runs tests/bench/bench.py.
#   BENCH_REPS=5 BENCH_LAB_IMAGES="jupyter-base jupyter-ml jupyter" BENCH_NAIVE=1 bash tests/bench.sh
# Needs the images (`dimtensor-up build jupyter-base …`) and the test tools (tests/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${DTU_TEST_PYTHON:-python3}
secret=()
ca=${PIP_CERT:-${SSL_CERT_FILE:-${REQUESTS_CA_BUNDLE:-}}}
[ -n "$ca" ] && secret=(--secret "id=ca-bundle,src=$ca")
# BuildKit through buildx where the docker CLI has it; else a CLI with BuildKit built in (before
# Docker 23, e.g. Debian's docker.io: DOCKER_BUILDKIT_CLI=/usr/bin/docker).
build() {
  if docker buildx version >/dev/null 2>&1; then
    docker buildx build --load -q "${secret[@]}" "$@" >/dev/null
  else
    DOCKER_BUILDKIT=1 "${DOCKER_BUILDKIT_CLI:-docker}" build -q "${secret[@]}" "$@" >/dev/null
  fi
}
build -f tests/bench/plain-jupyterlab.Dockerfile -t dimtensor-bench/plain-jupyterlab tests/bench
if [ -n "${BENCH_NAIVE:-}" ]; then
  build -f tests/bench/naive-jupyter.Dockerfile -t dimtensor-bench/naive-jupyter tests/bench
fi
cargo build --release --locked -q
DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" "$python" tests/bench/bench.py

# A project's requirements.txt: a start with it unchanged against a plain start, and its build.
DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" "$python" tests/bench/project.py

# A lab spawned through `dimtensor-up hub` next to `dimtensor-up jupyter` on the same image.
DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" "$python" tests/bench/hub.py

copy=$(mktemp -d)
trap 'rm -rf "$copy"; [ "$(id -u)" != 0 ] || { bash tests/support/engines.sh stop; bash tests/support/slurm.sh stop; bash tests/support/sshd.sh stop; bash tests/support/registry.sh stop; bash tests/support/gpu-engine.sh stop; }' EXIT

# As root: rootless Podman (the launcher against a bare `podman run`, both as the engines' user),
# and a workstation over ssh (against the same engine reached locally).
if [ "$(id -u)" = 0 ]; then
  while IFS= read -r line; do export "${line?}"; done < <(bash tests/support/engines.sh start ghcr.io/marcoloco23/dimtensor:jupyter-base)
  while IFS= read -r line; do export "${line?}"; done < <(bash tests/support/sshd.sh start)
  chmod -R a+rX "${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up"
  DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" PYTHONPATH=tests/bench "$python" tests/bench/engines.py
  DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" "$python" tests/bench/remote.py
  # A lab as a Slurm job on the one-node test cluster, against the same lab through ssh://.
  bash tests/support/slurm.sh start >/dev/null
  DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" PYTHONPATH=tests/bench "$python" tests/bench/slurm.py
  # Pulls from a real registry (TLS, a login) into an empty engine: the launcher against
  # `docker pull`, and the bytes of the full GPU lab once jupyter-ml is there.
  while IFS= read -r line; do export "${line?}"; done < <(bash tests/support/registry.sh start jupyter-base)
  DTU_GPU_DOCKER_HOST=$(bash tests/support/gpu-engine.sh start) DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" \
    "$python" tests/bench/registry.py
  # linux/arm64 under QEMU next to amd64 (tests/arm64.sh builds the arm64 images first).
  DTU_ARM64_REGISTRY=$(bash tests/arm64.sh | tail -n 1) DTU_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up" \
    PYTHONPATH=tests/bench "$python" tests/bench/arm64.py
fi

# Rebuild time after a notebook change, with plain BuildKit from a copy of the checkout.
git ls-files -z | xargs -0 -I{} cp --parents {} "$copy"
build -f "$copy/docker/Dockerfile" --target jupyter --build-arg JUPYTER_ON=base -t dimtensor-bench/rebuild "$copy"
sed -i "s/A dropped ball/A dropped ball (edited $(date +%s%N))/" "$copy/notebooks/03-plotting.ipynb"
start=$(date +%s.%N)
build -f "$copy/docker/Dockerfile" --target jupyter --build-arg JUPYTER_ON=base -t dimtensor-bench/rebuild "$copy"
echo "{\"rebuild_after_notebook_change_s\": $(echo "$(date +%s.%N) - $start" | bc)}"
docker rmi -f dimtensor-bench/rebuild >/dev/null
