#!/usr/bin/env bash
# Regenerates the pinned dependency sets from the *.in files with uv's resolver, one folder per
# platform the images are built for (the Dockerfile picks ${TARGETARCH}). Every pin carries its
# hashes: the images install with --require-hashes, so a changed download fails the build.
# An existing lock's versions are kept (uv prefers them); `--upgrade` moves them.
# rfc3987-syntax is left out on purpose: it builds a grammar at import time and costs JupyterLab
# 0.7 s of start-up (docker/README.md, "Fast start"); jsonschema only loses the "iri" format check.
set -euo pipefail
cd "$(dirname "$0")"
for arch in amd64:x86_64 arm64:aarch64; do
  mkdir -p "${arch%%:*}"
  for name in base ml full jupyter-base jupyter-ml jupyter-full hub; do
    # Each JupyterLab set is constrained by its variant's, so the jupyter stage only adds packages.
    constraint=()
    [[ $name == jupyter-* ]] && constraint=(--constraint "${arch%%:*}/${name#jupyter-}.txt")
    inputs=("$name.in")
    # On amd64 full is built on ml (one CUDA stack for every GPU image): its set is ml's plus the
    # integrations. On arm64 full has no CUDA (PyPI's torch there is CPU-only) and sits on base.
    [[ $name == full && ${arch%%:*} == amd64 ]] && inputs=(ml.in full.in) constraint=(--constraint amd64/ml.txt)
    uv pip compile "${constraint[@]}" --quiet --python-version 3.11 --python-platform "${arch#*:}-manylinux_2_28" \
      --no-header --no-annotate --no-emit-package rfc3987-syntax --generate-hashes "$@" \
      --output-file "${arch%%:*}/$name.txt" "${inputs[@]}"
  done
done
