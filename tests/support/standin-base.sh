#!/usr/bin/env bash
# TEST TOOLING ONLY. Where python:3.11-slim-bookworm cannot be pulled (an offline or
# registry-less machine), builds a STAND-IN for it: Debian bookworm minbase with python3,
# python3-venv and ca-certificates, imported under the same reference and labelled
# org.dimtensor-up.stand-in=true so nobody mistakes it for the real image.
set -euo pipefail
ref="${1:-python:3.11-slim-bookworm}"

if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "base: $ref present ($(docker image inspect -f '{{index .Config.Labels "org.dimtensor-up.stand-in"}}' "$ref" | sed 's/^true$/stand-in/;s/^$/real/'))"
  exit 0
fi
if timeout 60 docker pull -q "$ref" >/dev/null 2>&1; then
  echo "base: pulled the real $ref"
  exit 0
fi
echo "base: $ref cannot be pulled; building a labelled stand-in with debootstrap"
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
root=$(mktemp -d /tmp/dimtensor-up-standin.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 || {
  tail -n 20 "$root.log" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'LABEL org.dimtensor-up.stand-in=true' \
  --change 'LABEL org.opencontainers.image.description="STAND-IN for python:3.11-slim-bookworm (Debian bookworm python3), test tooling only"' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$ref" >/dev/null
rm -f "$root.log"
echo "base: stand-in $ref imported"
