#!/bin/sh
# Build-time helper of docker/Dockerfile. Installs exactly a pinned set (--lock FILE, dimtensor
# itself left for its own layer) or dimtensor (--dimtensor VERSION WHEELDIR). A CA bundle handed
# to the build is used for PyPI and never lands in a layer.
set -eu
# The Dockerfile mounts a BuildKit cache here: wheels are reused across builds, never in a layer.
export PIP_CACHE_DIR=/var/cache/pip
# Two ways in, neither stored in a layer: `docker build --secret id=ca-bundle,src=FILE`, or the
# build context's docker/ca/ca-bundle.crt bind-mounted for the RUN (what dimtensor-up sends).
for bundle in /run/secrets/ca-bundle /run/ca-context/ca-bundle.crt; do
  if [ -s "$bundle" ]; then
    export PIP_CERT="$bundle"
    break
  fi
done
case "$1" in
  --lock)
    grep -v '^dimtensor==' "$2" | pip install --no-deps --require-virtualenv -r /dev/stdin ;;
  --dimtensor)
    local_dist=$(find "$3" -maxdepth 1 \( -name 'dimtensor-*.whl' -o -name 'dimtensor-*.tar.gz' \) | head -n 1)
    if [ -n "$local_dist" ]; then
      pip install --no-deps --require-virtualenv "$local_dist"
    else
      pip install --no-deps --require-virtualenv "dimtensor==$2"
    fi ;;
  *) echo "usage: pip-install --lock FILE | --dimtensor VERSION WHEELDIR" >&2; exit 2 ;;
esac
