"""Benchmark (no timed assertions): a lab as a Slurm job on the one-node test cluster, against
`jupyter --host ssh://` on the same machine through the same login, interleaved; and two floors
measured in the same run: how long the scheduler itself takes to start a job (`sbatch` of a job
that does nothing, until `squeue` says RUNNING), and a bare `docker run` of the lab image until
JupyterLab answers its token (what the node's container costs by itself). What the launcher adds
is the job's time to a ready lab minus both floors. Run by tests/bench.sh as root after
tests/support/sshd.sh and tests/support/slurm.sh started.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time

from bench import bare_docker_run
import wait
from remote import LAB, cli, laptop

REPS = int(os.environ.get("BENCH_REPS", "5"))


def scheduler_start():
    """sbatch → RUNNING for a job that only sleeps, polled every 50 ms (the scheduler's floor)."""
    start = time.perf_counter()
    job = subprocess.run(["sbatch", "--parsable", "--output=/dev/null", "--wrap=sleep 30"], capture_output=True,
                         text=True, check=True).stdout.strip()
    wait.until(lambda: subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True,
                                      text=True).stdout.strip() == "RUNNING", f"job {job} running", interval=0.05)
    took = time.perf_counter() - start
    subprocess.run(["scancel", job], check=True)
    wait_for_empty_queue()
    return took


def wait_for_empty_queue():
    """Until squeue answers and lists no job (a cancelled one stays while it completes)."""
    def empty():
        queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True)
        return queue.returncode == 0 and not queue.stdout.strip()

    wait.until(empty, "an empty Slurm queue", interval=0.2)


def main():
    floor, bare, ssh, job = [], [], [], []
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(f"{root}/work")
        laptop(root)
        # The node runs the lab with its Docker (it has Podman too, set up for other users).
        os.makedirs(f"{root}/.config/dimtensor-up")
        with open(f"{root}/.config/dimtensor-up/config.toml", "w") as f:
            f.write('[slurm.box]\nruntime = "docker"\n')
        subprocess.run(["chmod", "-R", "a+rX", f"{root}/.config"], check=True)
        for _ in range(REPS):
            floor.append(scheduler_start())
            bare.append(bare_docker_run("ghcr.io/marcoloco23/dimtensor:jupyter-base-5.2.0"))
            ssh.append(cli(root, ["--host", "ssh://box", *LAB], False))
            cli(root, ["--host", "ssh://box", "stop", "-q"], False)
            job.append(cli(root, ["--host", "ssh://box", "--slurm", *LAB], False))
            cli(root, ["--host", "ssh://box", "--slurm", "stop", "-q"], False)
            wait_for_empty_queue()
    med = statistics.median
    print(json.dumps({
        "reps": REPS,
        "scheduler_start_s": round(med(floor), 3),
        "bare_docker_run_ready_s": round(med(bare), 3),
        "ssh_lab_ready_s": round(med(ssh), 3),
        "slurm_lab_ready_s": round(med(job), 3),
        "ratio_slurm_to_ssh": round(med(job) / med(ssh), 3),
        "launcher_adds_s": round(med(job) - med(floor) - med(bare), 3),
    }, indent=2))


if __name__ == "__main__":
    main()
