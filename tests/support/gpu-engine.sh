#!/usr/bin/env bash
# TEST TOOLING ONLY. A second Docker engine that accepts GPU requests, for testing the GPU path
# on machines without a GPU: dockerd registers its NVIDIA device driver when a program named
# nvidia-container-runtime-hook is on its PATH, and a stub that exits 0 is enough for containers
# with `--gpus` to start (they run on the CPU). It has its own socket, data root and bridge, so
# the main engine is left alone.
#   tests/support/gpu-engine.sh start [IMAGE…]   # prints the DOCKER_HOST to use; loads IMAGEs
#   tests/support/gpu-engine.sh stop
set -euo pipefail
# shellcheck source=tests/support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"
root=/run/dimtensor-up-gpu
sock="unix://$root/docker.sock"
bridge=dtu-gpu0

case "${1:-}" in
  start)
    shift
    mkdir -p "$root/bin"
    printf '#!/bin/sh\n# stub: the real hook would set up the NVIDIA devices\nexit 0\n' >"$root/bin/nvidia-container-runtime-hook"
    chmod +x "$root/bin/nvidia-container-runtime-hook"
    if ! docker -H "$sock" info >/dev/null 2>&1; then
      ip link show "$bridge" >/dev/null 2>&1 || {
        ip link add "$bridge" type bridge
        ip addr add 10.213.7.1/24 dev "$bridge"
        ip link set "$bridge" up
      }
      # A bridge of its own (never --bridge=none, nor --default-address-pool: either makes dockerd
      # delete the main engine's docker0).
      PATH="$root/bin:$PATH" setsid env -C / dockerd --host "$sock" --data-root /var/lib/dimtensor-up-gpu \
        --exec-root "$root/exec" --pidfile "$root/docker.pid" --bridge "$bridge" \
        --iptables=false --ip-masq=false >"$root/dockerd.log" 2>&1 < /dev/null &
      wait_until 60 1 quiet docker -H "$sock" info || { tail -n 20 "$root/dockerd.log" >&2; exit 1; }
    fi
    # Without iptables of its own, traffic between two containers on one of its networks (the
    # hub and a lab of `dimtensor-up hub`) meets the main engine's FORWARD policy (DROP). Frames
    # bridged within one network are let through (the main engine allows that on its own
    # networks too); traffic routed between networks still meets its isolation rules.
    if command -v iptables >/dev/null 2>&1 && ! iptables -C FORWARD -m physdev --physdev-is-bridged -j ACCEPT 2>/dev/null; then
      iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT
    fi
    for image in "$@"; do
      want=$(docker image inspect -f '{{.Id}}' "$image")
      have=$(docker -H "$sock" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
      [ "$want" = "$have" ] || docker save "$image" | docker -H "$sock" load -q >/dev/null
    done
    echo "$sock"
    ;;
  stop)
    if [ -f "$root/docker.pid" ]; then
      kill "$(cat "$root/docker.pid")" 2>/dev/null || true
      wait_until 30 1 gone test -f "$root/docker.pid" || true
    fi
    ip link del "$bridge" 2>/dev/null || true
    iptables -D FORWARD -m physdev --physdev-is-bridged -j ACCEPT 2>/dev/null || true
    ;;
  *) echo "usage: $0 start [IMAGE…] | stop" >&2; exit 2 ;;
esac
