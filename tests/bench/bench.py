"""Benchmarks (no timed assertions anywhere): run by tests/bench.sh, which builds what it needs.

Every figure is a median over interleaved repetitions, measured on the engine in use, with its
floor measured in the same run.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import wait

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
REGISTRY = "ghcr.io/marcoloco23/dimtensor"
POLL = 0.1  # the launcher's own poll interval (src/lab/ready.rs)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout.strip()


def wait_ready(port, token):
    """Polls /api/status with the token, as the launcher does."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"})

    def answers():
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    wait.until(answers, f"JupyterLab on 127.0.0.1:{port}", interval=POLL)


def bare_docker_run(image, port=18888):
    """The floor: `docker run -d` of the same image, polled the same way."""
    token = "benchtoken"
    start = time.perf_counter()
    cid = sh("docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8888", "-e", f"JUPYTER_TOKEN={token}", image)
    wait_ready(port, token)
    elapsed = time.perf_counter() - start
    sh("docker", "rm", "-f", cid)
    return elapsed


def launcher(variant):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, DIMTENSOR_UP_STATE_DIR=os.path.join(work, ".state"))
        env.pop("BROWSER", None)
        start = time.perf_counter()
        subprocess.run([BIN, "jupyter", "--variant", variant, "--detach", "--no-browser", "--pull", "never", "--gpus", "none", "-q"],
                       cwd=work, env=env, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        reuse = []
        for _ in range(10):
            t = time.perf_counter()
            subprocess.run([BIN, "jupyter", "--variant", variant, "--detach", "--no-browser", "-q"], cwd=work, env=env, check=True, capture_output=True)
            reuse.append(time.perf_counter() - t)
        subprocess.run([BIN, "stop", "-q"], cwd=work, env=env, check=True, capture_output=True)
        return elapsed, statistics.median(reuse)


def container_floor(image):
    start = time.perf_counter()
    sh("docker", "run", "--rm", image, "python", "-c", "pass")
    return time.perf_counter() - start


def command_time(args, n=20):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([BIN, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def med(xs):
    return round(statistics.median(xs), 3)


def main():
    results = {"engine": sh("docker", "version", "--format", "Docker {{.Server.Version}} (API {{.Server.APIVersion}})"),
               "cpus": os.cpu_count(), "reps": REPS}

    # 1. The launcher against a bare docker run of the same image (jupyter-base), interleaved.
    launch, bare, reuse = [], [], []
    for _ in range(REPS):
        l, r = launcher("base")
        launch.append(l)
        reuse.append(r)
        bare.append(bare_docker_run(f"{REGISTRY}:jupyter-base"))
    results["time_to_ready_s"] = {"dimtensor_up_jupyter": med(launch), "bare_docker_run": med(bare),
                                  "ratio": round(statistics.median(launch) / statistics.median(bare), 3)}
    results["reuse_running_server_ms"] = round(statistics.median(reuse) * 1000, 1)
    results["startup_ms"] = {"--version": round(command_time(["--version"]) * 1000, 1),
                             "ps": round(command_time(["ps"]) * 1000, 1)}

    # 2. JupyterLab images against the plain JupyterLab image on the same base, interleaved.
    images = {"plain JupyterLab (reference)": "dimtensor-bench/plain-jupyterlab"}
    for tag in os.environ.get("BENCH_LAB_IMAGES", "jupyter-base").split():
        images[tag] = f"{REGISTRY}:{tag}"
        if os.environ.get("BENCH_NAIVE") and tag == "jupyter":
            images["jupyter, naive (before fast start)"] = "dimtensor-bench/naive-jupyter"
    ready = {name: [] for name in images}
    floor = []
    for _ in range(REPS):
        floor.append(container_floor(f"{REGISTRY}:jupyter-base"))
        for name, image in images.items():
            ready[name].append(bare_docker_run(image))
    plain = statistics.median(ready["plain JupyterLab (reference)"])
    results["container_start_floor_s"] = med(floor)
    results["ready_s"] = {name: {"median": med(xs), "vs_plain": round(statistics.median(xs) / plain, 2)} for name, xs in ready.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
