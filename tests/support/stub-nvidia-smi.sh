#!/usr/bin/env bash
# The one stub nvidia-smi of the tests, written where a PATH will find it, as NVIDIA's prints:
#   tests/support/stub-nvidia-smi.sh FILE DRIVER [GPUS [mig]]
# `--query-gpu` lines for GPUS GPUs (default 1) on DRIVER; `-L` lists them where there are
# several, and with `mig` GPU 0 is split into two MIG slices (3g.40gb, 1g.10gb).
set -euo pipefail
file=$1 driver=$2 gpus=${3:-1} mig=${4:-}
list=""
if [ "$mig" = mig ]; then
  list='GPU 0: NVIDIA Stub GPU (UUID: GPU-00000000-1111-2222-3333-444444444444)\n  MIG 3g.40gb     Device  0: (UUID: MIG-aaaaaaaa-1111-2222-3333-444444444444)\n  MIG 1g.10gb     Device  1: (UUID: MIG-bbbbbbbb-1111-2222-3333-444444444444)\n'
elif [ "$gpus" -gt 1 ]; then
  for i in $(seq 0 $((gpus - 1))); do list+="GPU $i: NVIDIA Stub GPU (UUID: GPU-$i)\\n"; done
fi
mkdir -p "$(dirname "$file")"
{
  echo '#!/bin/sh'
  echo "# stub: $gpus GPU(s) on NVIDIA driver $driver${mig:+, GPU 0 in MIG slices}"
  [ -n "$list" ] && echo "if [ \"\$1\" = -L ]; then printf '$list'; exit 0; fi"
  for i in $(seq 0 $((gpus - 1))); do echo "echo '$i, NVIDIA Stub GPU, $driver, 81559'"; done
} >"$file.tmp"
chmod 755 "$file.tmp"
mv "$file.tmp" "$file"
