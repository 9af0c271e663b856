#!/usr/bin/env bash
# Hash-locked builds fail closed. The base stage is built from a copy of the build context whose
# lock has one package's hashes changed, then one pin without hashes, then dimtensor asked at a
# version the lock does not have: each build must fail with pip-install's reason. The untouched
# lock is built first, so a failure can only be the change (the build cache makes it seconds).
#   tests/locks.sh   (tests/run.sh runs it after the images are built)
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/support/engine.sh
case $(docker info --format '{{.Architecture}}') in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "error: no locks for this engine's architecture" >&2; exit 1 ;;
esac
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/docker"
cp -r docker/requirements docker/pip-install.sh docker/jupyter docker/wheels docker/ca docker/Dockerfile \
  docker/Dockerfile.dockerignore "$ctx/docker/"
cp -r notebooks "$ctx/"
lock="$ctx/docker/requirements/$arch/base.txt"
cp "$lock" "$ctx/base.txt.orig"
ca=()
for bundle in "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
  [ -s "$bundle" ] && { ca=(--secret "id=ca-bundle,src=$bundle"); break; }
done
build() {
  buildkit_build --progress=plain --target base -t dimtensor-up-test/locks "${ca[@]}" \
    -f "$ctx/docker/Dockerfile" "$@" "$ctx" 2>&1
}
refused() {
  local label=$1 needle=$2 out
  shift 2
  if out=$(build "$@"); then
    echo "FAIL: the build with $label succeeded" >&2
    exit 1
  fi
  grep -qF -- "$needle" <<<"$out" || { tail -n 20 <<<"$out" >&2; echo "FAIL: $label: no \"$needle\"" >&2; exit 1; }
  grep -F "error: " <<<"$out" | grep -v "^#[0-9]* ERROR\|^ERROR\|failed to solve" | head -n 1 | sed "s/^#[0-9]* [0-9.]* /  $label → /"
}

build >/dev/null || { echo "FAIL: the unchanged lock does not build" >&2; exit 1; }
echo "  the unchanged lock builds"

# Every hash of numpy replaced by another of the same form: a download that differs from the lock.
python3 - "$lock" <<'PY'
import re, sys
path = sys.argv[1]
text, pin = open(path).read(), None
out = []
for line in text.splitlines(keepends=True):
    if not line.startswith(" "):
        pin = line.split("==")[0]
    out.append(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, line) if pin == "numpy" else line)
open(path, "w").write("".join(out))
PY
refused "a changed hash" "THESE PACKAGES DO NOT MATCH THE HASHES"

# numpy pinned without hashes: a lock not made by compile.sh.
python3 - "$ctx/base.txt.orig" "$lock" <<'PY'
import sys
text = open(sys.argv[1]).read()
blocks = text.replace(" \\\n    --hash", " --hash").splitlines()
out = ["numpy==" + b.split("==")[1].split()[0] if b.startswith("numpy==") else b for b in blocks]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
refused "a pin without hashes" "Hashes are required in --require-hashes mode"

cp "$ctx/base.txt.orig" "$lock"
refused "an unlocked dimtensor" "is not the version locked" --build-arg DIMTENSOR_VERSION=5.1.0
docker rmi dimtensor-up-test/locks >/dev/null
echo "locks: every changed, missing or unlocked pin fails the build"
