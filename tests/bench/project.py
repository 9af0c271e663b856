"""Benchmark (no timed assertions): a project's own environment (README.md, "Your project").

1. Time to a ready lab for a folder whose requirements.txt is unchanged (its project image is
   there: the launcher checks the key and makes no build call) against a plain start of the same
   lab in a folder without one; interleaved, medians.
2. The build of a project image with one small pure package (from PyPI) over the lab already
   here: each repetition changes requirements.txt (a comment), so the builder runs pip again;
   pip's download cache (a BuildKit cache mount) is warm after the first.

Run by tests/bench.sh after the images are built; DTU_BIN is the launcher.
"""
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
START = [BIN, "jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never", "--gpus", "none"]


def start(folder):
    begin = time.perf_counter()
    out = subprocess.run(START, cwd=folder, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - begin
    subprocess.run([BIN, "stop", "-q"], cwd=folder, check=True, capture_output=True)
    return elapsed, out.stderr


with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as project:
    requirements = os.path.join(project, "requirements.txt")
    with open(requirements, "w") as f:
        f.write("pyjokes==0.8.3\n")
    start(project)  # builds the project image once
    start(plain)
    unchanged, bare = [], []
    for _ in range(REPS):
        elapsed, stderr = start(project)
        assert "building" not in stderr, stderr
        unchanged.append(elapsed)
        bare.append(start(plain)[0])

    builds, pip_said = [], []
    for rep in range(REPS):
        with open(requirements, "w") as f:
            f.write(f"pyjokes==0.8.3\n# bench {time.time_ns()} {rep}\n")
        elapsed, stderr = start(project)
        built = re.search(r"^built dimtensor-up-project/\S+ in \d+ s: (.*)$", stderr, re.M)
        assert built, stderr
        pip_said.append(built.group(1))
        # The build alone: the launcher's whole start less the plain start's median.
        builds.append(elapsed)

median_unchanged, median_plain = statistics.median(unchanged), statistics.median(bare)
print(json.dumps({
    "reps": REPS,
    "start_with_unchanged_project_s": round(median_unchanged, 3),
    "plain_start_same_lab_s": round(median_plain, 3),
    "ratio": round(median_unchanged / median_plain, 3),
    "start_with_changed_requirements_s": round(statistics.median(builds), 3),
    "first_of_those_s": round(builds[0], 3),
    "project_build_s_est": round(statistics.median(builds) - median_plain, 3),
    "pip_said": pip_said[0],
}, indent=2))
