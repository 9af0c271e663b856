#!/usr/bin/env bash
# The linux/arm64 images (Apple Silicon, Graviton), built and smoke-tested on this amd64 machine
# under QEMU user emulation, through dimtensor-up itself. As root (binfmt_misc, the stand-in base).
#   bash tests/arm64.sh                          # base and jupyter-base (what CI runs, ~6 min cold)
#   DTU_ARM64_IMAGES=all bash tests/arm64.sh     # all seven (the documented full check, ~1-2 h cold)
# They are tagged dimtensor-up-test/arm64:<image>: one local tag holds one architecture, so the
# amd64 images under the default name stay. Prints the registry name to use, last.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "error: needs root (binfmt_misc, debootstrap)" >&2; exit 1; }
images=${DTU_ARM64_IMAGES:-base jupyter-base}
[ "$images" = all ] && images="base jupyter-base hub full jupyter ml jupyter-ml"
registry=dimtensor-up-test/arm64
python_image=dimtensor-up-test/python:3.11-slim-bookworm-arm64
bin="${CARGO_TARGET_DIR:-target}/debug/dimtensor-up"
[ -x "$bin" ] || cargo build --locked -q

bash tests/support/emulation.sh arm64 >&2
bash tests/support/standin-base.sh "$python_image" linux/arm64 >&2
config=$(mktemp /tmp/dimtensor-up-arm64.XXXXXX.toml)
trap 'rm -f "$config"' EXIT
printf 'registry = "%s"\npython-image = "%s"\nplatform = "linux/arm64"\n' "$registry" "$python_image" >"$config"
for image in $images; do
  t0=$SECONDS
  DIMTENSOR_UP_CONFIG="$config" "$bin" -q build "$image" >&2
  echo "  arm64 $image built in $((SECONDS - t0)) s" >&2
  [ "$(docker image inspect -f '{{.Architecture}}' "$registry:$image")" = arm64 ] || {
    echo "error: $registry:$image is not an arm64 image" >&2; exit 1; }
  kind=$image
  [[ $image == jupyter* ]] && kind=jupyter
  t0=$SECONDS
  bash docker/smoke-test.sh "$registry:$image" "$kind" >&2
  echo "  arm64 $image smoke-tested in $((SECONDS - t0)) s (emulated)" >&2
done
REGISTRY=$registry PYTHON_IMAGE=$python_image bash docker/size-report.sh $images >&2
echo "$registry"
