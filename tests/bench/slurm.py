"""Benchmark (no timed assertions): a lab as a Slurm job on the one-node test cluster, against
`jupyter --host ssh://` on the same machine through the same login, interleaved; and the floor:
how long the scheduler itself takes to start a job (`sbatch` of a job that does nothing, until
`squeue` says RUNNING). Run by tests/bench.sh as root after tests/support/sshd.sh and
tests/support/slurm.sh started. What the launcher adds is the job's time to a ready lab minus
the scheduler's start and minus the ssh lab's own time to ready.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time

from remote import LAB, cli, laptop

REPS = int(os.environ.get("BENCH_REPS", "5"))


def scheduler_start():
    """sbatch → RUNNING for a job that only sleeps, polled every 50 ms (the scheduler's floor)."""
    start = time.perf_counter()
    job = subprocess.run(["sbatch", "--parsable", "--output=/dev/null", "--wrap=sleep 30"], capture_output=True,
                         text=True, check=True).stdout.strip()
    while subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip() != "RUNNING":
        time.sleep(0.05)
    took = time.perf_counter() - start
    subprocess.run(["scancel", job], check=True)
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip():
        time.sleep(0.2)
    return took


def main():
    floor, ssh, job = [], [], []
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
            ssh.append(cli(root, ["--host", "ssh://box", *LAB], False))
            cli(root, ["--host", "ssh://box", "stop", "-q"], False)
            job.append(cli(root, ["--host", "ssh://box", "--slurm", *LAB], False))
            cli(root, ["--host", "ssh://box", "--slurm", "stop", "-q"], False)
            while subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip():
                time.sleep(0.2)
    med = statistics.median
    print(json.dumps({
        "reps": REPS,
        "scheduler_start_s": round(med(floor), 3),
        "ssh_lab_ready_s": round(med(ssh), 3),
        "slurm_lab_ready_s": round(med(job), 3),
        "ratio_slurm_to_ssh": round(med(job) / med(ssh), 3),
        "launcher_adds_s": round(med(job) - med(floor) - med(ssh), 3),
    }, indent=2))


if __name__ == "__main__":
    main()
