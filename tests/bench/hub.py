"""Benchmark (no timed assertions): time from "spawn" to a ready single-user lab through
`dimtensor-up hub` (JupyterHub's REST API, until the hub reports the server ready), next to
`dimtensor-up jupyter --detach` on the same image (jupyter-base), interleaved, on this engine.
Run by tests/bench.sh after the images are built.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "..", "support", "hub_client.py")
PYTHON = os.environ.get("DTU_TEST_PYTHON", "python3")


def client(hub, *args):
    out = subprocess.run([PYTHON, CLIENT, hub, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def launcher(env):
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        subprocess.run([BIN, "jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never", "--gpus", "none", "-q"],
                       cwd=work, env=env, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        subprocess.run([BIN, "stop", "-q"], cwd=work, env=env, check=True, capture_output=True)
        return elapsed


with tempfile.TemporaryDirectory() as home:
    env = {**os.environ, "HOME": home, "DIMTENSOR_UP_CONFIG": f"{home}/config.toml", "DIMTENSOR_UP_STATE_DIR": f"{home}/state"}
    out = subprocess.run([BIN, "hub", "--dir", f"{home}/hub", "--labs", "base", "--gpus", "none", "--up", "--no-browser", "--pull", "never", "-q"],
                         env=env, check=True, capture_output=True, text=True)
    hub = out.stdout.strip().splitlines()[-1].removesuffix("/hub/")
    project = next(l.split(": ", 1)[1] for l in open(f"{home}/hub/compose.yaml") if l.startswith("name: "))
    password = open(f"{home}/hub/admin-password").read().strip()
    try:
        client(hub, "signup", "bench", "bench-password-1")
        client(hub, "authorize", "admin", password, "bench")
        token = client(hub, "token", "bench", "bench-password-1")["token"]
        spawn, jupyter = [], []
        # One of each first: the first start of an image pays the page cache.
        client(hub, "spawn", "bench", token, "base"); client(hub, "stop", "bench", token); time.sleep(1)
        launcher(env)
        for _ in range(REPS):
            spawn.append(client(hub, "spawn", "bench", token, "base")["ready_s"])
            client(hub, "stop", "bench", token)
            time.sleep(1)  # DockerSpawner removes the stopped container
            jupyter.append(launcher(env))
    finally:
        subprocess.run([BIN, "stop", "-q", project], env=env, capture_output=True)
        vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={project}"], capture_output=True, text=True).stdout.split()
        if vols:
            subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True)
print(json.dumps({
    "image": "jupyter-base", "reps": REPS,
    "time_to_ready_s": {"hub_spawn": round(statistics.median(spawn), 3), "dimtensor_up_jupyter": round(statistics.median(jupyter), 3),
                        "ratio": round(statistics.median(spawn) / statistics.median(jupyter), 3)},
}, indent=2))
