#!/usr/bin/env bash
# A check for a machine with an NVIDIA GPU and Docker (or Podman with CDI). Not part of CI: the CI
# machine has no GPU (the GPU path there runs against a stub hook, tests/cli/gpu.rs). Starts the
# ml and full labs through the launcher with --gpus all and reports, from a kernel in each:
# torch.cuda.is_available(), a matmul on the GPU, jax.devices(), torch and jax in one kernel
# without running out of GPU memory (JAX's preallocation is off), and /dev/shm's size.
#   bash tests/gpu-check.sh            # needs the test tools: bash tests/run.sh once, or
#   DTU_TEST_PYTHON=python3 bash tests/gpu-check.sh   # any python3 with websocket-client
set -euo pipefail
cd "$(dirname "$0")/.."
python=${DTU_TEST_PYTHON:-python3}
cargo build --release --locked -q
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/dimtensor-up"
"$bin" doctor
code=$(cat <<'PY'
import json, os
report = {"xla_preallocate": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE")}
s = os.statvfs("/dev/shm")
report["dev_shm_gib"] = round(s.f_blocks * s.f_frsize / 2**30, 2)
import torch
report["torch_cuda_available"] = torch.cuda.is_available()
if report["torch_cuda_available"]:
    a = torch.randn(2048, 2048, device="cuda")
    report["torch_matmul_finite"] = bool(torch.isfinite(a @ a).all().item())
import jax, jax.numpy as jnp
report["jax_devices"] = [str(d) for d in jax.devices()]
x = jnp.ones((2048, 2048))
report["jax_matmul"] = float((x @ x)[0, 0])
if report["torch_cuda_available"]:
    # torch beside jax: half of what is free after JAX started must still be there for torch.
    free, total = torch.cuda.mem_get_info()
    report["gpu_free_after_jax_gib"] = round(free / 2**30, 2)
    block = torch.empty(int(free * 0.5), dtype=torch.uint8, device="cuda")
    report["torch_took_half_of_it"] = block.numel() > 0
print(json.dumps(report))
PY
)
status=0
for lab in ml full; do
  work=$(mktemp -d)
  echo "== $lab"
  if ! json=$(cd "$work" && "$bin" jupyter --variant "$lab" --gpus all --detach --no-browser --json); then
    echo "FAIL: the $lab lab did not start"; status=1; continue
  fi
  url=$(printf '%s' "$json" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  base=${url%%/lab*}
  token=${url##*token=}
  out=$("$python" tests/support/jupyter_client.py "$base" "$token" kernel "$code")
  echo "$out"
  printf '%s' "$out" | "$python" -c '
import json, sys
r = json.loads(json.load(sys.stdin)["output"])
ok = r.get("torch_cuda_available") and r.get("torch_matmul_finite") and any("cuda" in d.lower() for d in r["jax_devices"]) and r.get("torch_took_half_of_it") and r["dev_shm_gib"] > 0.06
sys.exit(0 if ok else 1)' || { echo "FAIL: $lab"; status=1; }
  (cd "$work" && "$bin" stop -q)
  rm -rf "$work"
done
exit $status
