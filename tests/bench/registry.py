"""Benchmark (no timed assertions): pulls from the test registry (tests/support/registry.sh: TLS,
a login) into an engine that has none of the layers, the GPU stub engine of the tests
(tests/support/gpu-engine.sh; its images are removed first, tests/run.sh loads them again).

1. `dimtensor-up pull jupyter-base` against `docker pull` of the same tag, interleaved: the
   launcher's time over the floor measured in the same run.
2. Bytes downloaded for the full GPU lab (`jupyter`) once `jupyter-ml` is there: what the one CUDA
   stack saves (the launcher's own count, checked against the registry's manifests).

Needs DTU_REGISTRY* (registry.sh start) and DTU_GPU_DOCKER_HOST; pushes ml, jupyter-ml and jupyter
(linux/amd64) to the registry itself. Run by tests/bench.sh as root.
"""
import base64
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
REPO = os.environ["DTU_REGISTRY"]
HOST = REPO.split("/")[0]
ENGINE = os.environ["DTU_GPU_DOCKER_HOST"]
HERE = os.path.dirname(os.path.abspath(__file__))


def docker(*args, capture=True):
    return subprocess.run(["docker", "-H", ENGINE, *args], check=True, capture_output=capture, text=True).stdout


def empty_engine():
    ids = docker("images", "-aq").split()
    if ids:
        subprocess.run(["docker", "-H", ENGINE, "rmi", "-f", *set(ids)], capture_output=True)
    docker("image", "prune", "-af")
    assert not docker("images", "-aq").split(), "the engine still has images"


def timed(cmd, env):
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, out.stderr


def downloaded_bytes(stderr):
    line = next(l for l in stderr.splitlines() if l.startswith("pulled "))
    m = re.search(r": ([0-9.]+) (MB|GB) downloaded", line)
    return float(m.group(1)) * (1e9 if m.group(2) == "GB" else 1e6), line


def manifest_layers(tag, config_dir):
    out = subprocess.run(["docker", "manifest", "inspect", "-v", f"{REPO}:{tag}"], env={**os.environ, "DOCKER_CONFIG": config_dir},
                         check=True, capture_output=True, text=True).stdout
    entries = json.loads(out)
    entries = entries if isinstance(entries, list) else [entries]
    amd64 = next(e for e in entries if e["Descriptor"]["platform"]["architecture"] == "amd64")
    return {layer["digest"]: layer["size"] for layer in amd64["SchemaV2Manifest"]["layers"]}


subprocess.run(["bash", os.path.join(HERE, "..", "support", "registry.sh"), "push", "ml", "jupyter-ml", "jupyter"],
               env={**os.environ, "DTU_REGISTRY_ARCHS": "amd64"}, check=True)

with tempfile.TemporaryDirectory() as home:
    os.makedirs(f"{home}/.docker")
    auth = base64.b64encode(f"{os.environ['DTU_REGISTRY_USER']}:{os.environ['DTU_REGISTRY_PASSWORD']}".encode()).decode()
    with open(f"{home}/.docker/config.json", "w") as f:
        json.dump({"auths": {HOST: {"auth": auth}}}, f)
    with open(f"{home}/config.toml", "w") as f:
        f.write(f'registry = "{REPO}"\n')
    env = {**os.environ, "HOME": home, "DOCKER_CONFIG": f"{home}/.docker", "DOCKER_HOST": ENGINE,
           "DIMTENSOR_UP_CONFIG": f"{home}/config.toml", "DIMTENSOR_UP_STATE_DIR": f"{home}/state"}

    floor, launcher = [], []
    for _ in range(REPS):
        empty_engine()
        floor.append(timed(["docker", "pull", "-q", f"{REPO}:jupyter-base"], env)[0])
        empty_engine()
        launcher.append(timed([BIN, "pull", "jupyter-base"], env)[0])
    f, l = statistics.median(floor), statistics.median(launcher)
    print(f"pull jupyter-base from the registry (TLS, login), medians of {REPS} interleaved, into an empty engine:")
    print(f"  docker pull        {f:6.2f} s  {', '.join(f'{x:.2f}' for x in floor)}")
    print(f"  dimtensor-up pull  {l:6.2f} s  {', '.join(f'{x:.2f}' for x in launcher)}")
    print(f"  ratio {l / f:.3f} (aim <= 1.1)")

    empty_engine()
    t_ml, err_ml = timed([BIN, "pull", "jupyter-ml"], env)
    first, line_ml = downloaded_bytes(err_ml)
    t_full, err_full = timed([BIN, "pull", "jupyter"], env)
    second, line_full = downloaded_bytes(err_full)
    ml_layers = manifest_layers("jupyter-ml", env["DOCKER_CONFIG"])
    full_layers = manifest_layers("jupyter", env["DOCKER_CONFIG"])
    extra = sum(size for digest, size in full_layers.items() if digest not in ml_layers)
    print("the full GPU lab after jupyter-ml (into an empty engine):")
    print(f"  {line_ml} [{t_ml:.0f} s]")
    print(f"  {line_full} [{t_full:.0f} s]")
    print(f"  jupyter after jupyter-ml: {second / 1e9:.2f} GB downloaded (the manifests' difference: {extra / 1e9:.2f} GB; "
          f"jupyter alone: {sum(full_layers.values()) / 1e9:.2f} GB compressed; aim <= 1.5 GB)")
    empty_engine()
