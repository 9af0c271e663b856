"""Benchmark (a report, no aim): a linux/arm64 JupyterLab under QEMU emulation next to the amd64
one on this machine, interleaved: through the launcher (`jupyter --variant base --detach`) and as
a bare `docker run` of the same image, polled the same way. Needs the arm64 images that
tests/arm64.sh builds (registry name in DTU_ARM64_REGISTRY); run by tests/bench.sh as root.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time

from bench import bare_docker_run

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
ARM64 = os.environ["DTU_ARM64_REGISTRY"]
NATIVE = "ghcr.io/marcoloco23/dimtensor"


def launcher(registry, platform):
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, ".config.toml")
        with open(config, "w") as f:
            f.write(f'registry = "{registry}"\nplatform = "{platform}"\n')
        env = {**os.environ, "DIMTENSOR_UP_CONFIG": config, "DIMTENSOR_UP_STATE_DIR": f"{work}/.state", "HOME": work}
        cmd = [BIN, "jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never", "--gpus", "none", "-q", "--timeout", "300"]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        subprocess.run([BIN, "stop", "-q"], cwd=work, env=env, check=True, capture_output=True)
        return elapsed


runs = {"launcher_amd64": [], "launcher_arm64": [], "bare_amd64": [], "bare_arm64": []}
for _ in range(REPS):
    runs["launcher_amd64"].append(launcher(NATIVE, "linux/amd64"))
    runs["launcher_arm64"].append(launcher(ARM64, "linux/arm64"))
    runs["bare_amd64"].append(bare_docker_run(f"{NATIVE}:jupyter-base"))
    runs["bare_arm64"].append(bare_docker_run(f"{ARM64}:jupyter-base"))
medians = {k: round(statistics.median(v), 3) for k, v in runs.items()}
print(json.dumps({
    "image": "jupyter-base", "reps": REPS, "time_to_ready_s": medians,
    "emulation_factor": {"launcher": round(medians["launcher_arm64"] / medians["launcher_amd64"], 2),
                         "bare": round(medians["bare_arm64"] / medians["bare_amd64"], 2)},
}, indent=2))
