#!/usr/bin/env bash
# Benchmarks (README.md, "Benchmarks"): builds the reference images, then runs tests/bench/bench.py.
#   BENCH_REPS=5 BENCH_LAB_IMAGES="jupyter-base jupyter-ml jupyter" BENCH_NAIVE=1 bash tests/bench.sh
# Needs the images (`dimtensor-up build jupyter-base …`) and the test tools (tests/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${DTU_TEST_PYTHON:-python3}
secret=()
ca=${PIP_CERT:-${SSL_CERT_FILE:-${REQUESTS_CA_BUNDLE:-}}}
[ -n "$ca" ] && secret=(--secret "id=ca-bundle,src=$ca")
build() { DOCKER_BUILDKIT=1 docker build -q "${secret[@]}" "$@" >/dev/null; }
build -f tests/bench/plain-jupyterlab.Dockerfile -t dimtensor-bench/plain-jupyterlab tests/bench
if [ -n "${BENCH_NAIVE:-}" ]; then
  build -f tests/bench/naive-jupyter.Dockerfile -t dimtensor-bench/naive-jupyter tests/bench
fi
cargo build --release --locked -q
DTU_BIN="${CARGO_TARGET_DIR:-target}/release/dimtensor-up" "$python" tests/bench/bench.py
