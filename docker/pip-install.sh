#!/bin/sh
# Build-time helper of docker/Dockerfile. Installs exactly a hash-locked set (--lock FILE,
# dimtensor itself left for its own layer) or dimtensor (--dimtensor VERSION WHEELDIR LOCK).
# Fail-closed: every package must match a hash in the lock (pip --require-hashes). A CA bundle
# handed to the build is used for PyPI and never lands in a layer.
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

# The pins of LOCK that start with PREFIX (keep) or all others (drop); a pin is its line and
# the --hash lines under it.
pins() { awk -v prefix="$2" -v mode="$3" '/^[^ ]/ { hit = (index($0, prefix) == 1) } (mode == "keep") == hit' "$1"; }

# Installs the requirements on stdin, all of them hash-checked; a failure says why in one line.
install_locked() {
  pip install --no-deps --require-virtualenv --require-hashes -r /dev/stdin || {
    echo "error: $1 did not install with --require-hashes; hint: a hash mismatch means a download differs from the lock (changed upstream or tampered with), a missing hash a lock not made by docker/requirements/compile.sh" >&2
    exit 1
  }
}

case "$1" in
  --lock)
    pins "$2" "dimtensor==" drop | install_locked "$2" ;;
  --dimtensor)
    local_dist=$(find "$3" -maxdepth 1 \( -name 'dimtensor-*.whl' -o -name 'dimtensor-*.tar.gz' \) | head -n 1)
    if [ -n "$local_dist" ]; then
      # A distribution the builder put in docker/wheels/ is theirs: no lock to check it against.
      echo "pip-install: installing $local_dist from docker/wheels/ (not hash-checked: it is not from an index)"
      pip install --no-deps --require-virtualenv "$local_dist"
    elif pins "$4" "dimtensor==$2 " keep | grep -q .; then
      pins "$4" "dimtensor==$2 " keep | install_locked "$4"
    else
      echo "error: dimtensor $2 is not the version locked in $4 ($(grep -o '^dimtensor==[^ ]*' "$4")); hint: lock it with docker/requirements/compile.sh after changing the *.in files, or put its wheel in docker/wheels/" >&2
      exit 1
    fi ;;
  *) echo "usage: pip-install --lock FILE | --dimtensor VERSION WHEELDIR LOCK" >&2; exit 2 ;;
esac
