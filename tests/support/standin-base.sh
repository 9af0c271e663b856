#!/usr/bin/env bash
# TEST TOOLING ONLY. Where python:3.11-slim-bookworm cannot be pulled (an offline or
# registry-less machine), builds a STAND-IN for it: Debian bookworm minbase with python3,
# python3-venv and ca-certificates, under the given reference and labelled
# org.dimtensor-up.stand-in=true so nobody mistakes it for the real image.
# Usage: standin-base.sh [REF] [PLATFORM]   PLATFORM linux/amd64 (default) or linux/arm64.
# One local tag holds one architecture, so an arm64 stand-in needs a REF of its own; it is built
# under QEMU user emulation (qemu-user-static + binfmt_misc, set up here when missing).
set -euo pipefail
source "$(dirname "$0")/engine.sh"
ref="${1:-python:3.11-slim-bookworm}"
platform="${2:-linux/amd64}"
arch="${platform#linux/}"

if docker image inspect "$ref" >/dev/null 2>&1; then
  have=$(docker image inspect -f '{{.Architecture}}' "$ref")
  if [ "$have" = "$arch" ]; then
    echo "base: $ref present for $platform ($(docker image inspect -f '{{index .Config.Labels "org.dimtensor-up.stand-in"}}' "$ref" | sed 's/^true$/stand-in/;s/^$/real/'))"
    exit 0
  fi
  echo "base: $ref is there for linux/$have, not $platform: replacing it"
fi
if timeout 60 docker pull -q --platform "$platform" "$ref" >/dev/null 2>&1; then
  echo "base: pulled the real $ref for $platform"
  exit 0
fi
echo "base: $ref cannot be pulled; building a labelled stand-in for $platform with debootstrap"
missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "$arch" != amd64 ]; then
  command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static binfmt-support)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ "$arch" = amd64 ] || bash "$(dirname "$0")/emulation.sh" "$arch"
root=$(mktemp -d /tmp/dimtensor-up-standin.XXXXXX)
trap 'rm -rf "$root" "$root.ctx"' EXIT
debootstrap --arch="$arch" --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 || {
  tail -n 20 "$root.log" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# `docker import --platform` labels the image with the engine's architecture (20.10), so the root
# file system goes in through a FROM scratch build, which labels it with the platform built for.
mkdir "$root.ctx"
tar -C "$root" -cf "$root.ctx/rootfs.tar" .
cat >"$root.ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
ADD rootfs.tar /
LABEL org.dimtensor-up.stand-in=true \
      org.opencontainers.image.description="STAND-IN for python:3.11-slim-bookworm (Debian bookworm python3), test tooling only"
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["python3"]
DOCKERFILE
buildkit_build -q --platform "$platform" -t "$ref" "$root.ctx" >/dev/null
rm -f "$root.log"
echo "base: stand-in $ref built for $platform"
