#!/usr/bin/env bash
# Prints each image's size and its growth over the base image (docker/README.md, "Sizes").
#   docker/size-report.sh [IMAGE…]   (names as in `dimtensor-up variants`; default: all)
set -euo pipefail
registry=${REGISTRY:-ghcr.io/marcoloco23/dimtensor}
base_ref=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
size() { docker image inspect -f '{{.Size}}' "$1" 2>/dev/null | grep -E '^[0-9]+$' || echo 0; }
base=$(size "$base_ref")
printf '%-14s %10s %14s\n' IMAGE "SIZE (MB)" "OVER BASE (MB)"
printf '%-14s %10d %14s\n' "(python base)" $((base / 1000000)) -
for image in "${@:-base ml full jupyter jupyter-base jupyter-ml}"; do
  for name in $image; do
    s=$(size "$registry:$name")
    [ "$s" = 0 ] && { printf '%-14s %10s\n' "$name" absent; continue; }
    printf '%-14s %10d %14d\n' "$name" $((s / 1000000)) $(((s - base) / 1000000))
  done
done
