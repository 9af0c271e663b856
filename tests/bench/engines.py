"""Benchmark (no timed assertions): time to a ready JupyterLab through the launcher against a bare
`podman run` of the same image, on rootless Podman, interleaved; run by tests/bench.sh as root
after tests/support/engines.sh started the engines (it runs both as the engines' user).

The bare floor is what a user would type: `podman run -d -p 127.0.0.1:P:8888 -e JUPYTER_TOKEN=…`
polled the same way the launcher polls. The launcher additionally maps the user (keep-id), mounts
the folder and a token file, and checks the engine and GPUs.
"""
import json
import os
import pwd
import statistics
import subprocess
import tempfile
import time

from bench import wait_ready  # the launcher's readiness poll, as bench.py measures it

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
HOST = os.environ["DTU_ROOTLESS_PODMAN_HOST"]
RUNTIME_DIR = os.environ["DTU_ENGINES_RUNTIME_DIR"]
UID = 4321
USER = pwd.getpwuid(UID).pw_name
IMAGE = "ghcr.io/marcoloco23/dimtensor:jupyter-base"
AS_USER = ["runuser", "-u", USER, "--", "env", f"XDG_RUNTIME_DIR={RUNTIME_DIR}", f"HOME={pwd.getpwuid(UID).pw_dir}"]


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout.strip()


def bare_podman_run(port=18890):
    token = "benchtoken"
    start = time.perf_counter()
    cid = sh(*AS_USER, "podman", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8888", "-e", f"JUPYTER_TOKEN={token}", IMAGE)
    wait_ready(port, token)
    elapsed = time.perf_counter() - start
    sh(*AS_USER, "podman", "rm", "-f", "-t", "0", cid)
    return elapsed


def launcher():
    with tempfile.TemporaryDirectory() as work:
        os.chown(work, UID, UID)
        env = ["env", f"DOCKER_HOST={HOST}", f"DIMTENSOR_UP_STATE_DIR={work}/.state", f"HOME={work}"]
        cmd = [*AS_USER, *env, BIN, "jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never", "--gpus", "none", "-q"]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=work, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        subprocess.run([*AS_USER, *env, BIN, "stop", "-q"], cwd=work, check=True, capture_output=True)
        return elapsed


# One of each first: the first keep-id container of an image pays a one-time storage set-up.
launcher()
bare_podman_run()
launch, bare = [], []
for _ in range(REPS):
    launch.append(launcher())
    bare.append(bare_podman_run())
print(json.dumps({
    "engine": sh("docker", "-H", HOST, "version", "--format", "Podman {{.Server.Version}} (rootless)"),
    "reps": REPS,
    "time_to_ready_s": {"dimtensor_up_jupyter": round(statistics.median(launch), 3),
                        "bare_podman_run": round(statistics.median(bare), 3),
                        "ratio": round(statistics.median(launch) / statistics.median(bare), 3)},
}, indent=2))
