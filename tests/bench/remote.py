"""Benchmark (no timed assertions): a JupyterLab through ssh:// against the same engine reached
locally, interleaved, and re-use of a running remote server through ssh. Run by tests/bench.sh as
root after tests/support/sshd.sh started the loopback "workstation".

Local: the engine user runs `jupyter --detach` on its own socket. Remote: a laptop user with no
access to the socket runs `jupyter --host ssh://box --detach`, which starts the same image on the
same engine through ssh and checks readiness through its tunnel, once after closing the ssh master
connection (the start pays its ssh log-in) and once with it open (a start within a minute of an
earlier command). Re-use: the same command again with the server running (it tunnels and checks
readiness only).
"""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

BIN = os.environ["DTU_BIN"]
REPS = int(os.environ.get("BENCH_REPS", "5"))
KEYS = os.environ["DTU_SSH_KEYS"]
PORT = os.environ["DTU_SSH_PORT"]
HOST_KEY = os.environ["DTU_SSH_HOST_KEY"]
LAPTOP_UID = 4321
DOCKER_GID = int(subprocess.run(["getent", "group", "docker"], capture_output=True, text=True, check=True).stdout.split(":")[2])
LAB = ["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never", "--gpus", "none", "-q"]


def laptop(root):
    """An ssh set-up for the laptop user in `root`, as tests/cli/support.rs makes it."""
    ssh = os.path.join(root, ".ssh")
    os.makedirs(ssh)
    shutil.copy(os.path.join(KEYS, "client"), os.path.join(ssh, "client"))
    with open(os.path.join(ssh, "known_hosts"), "w") as f:
        f.write(f"[127.0.0.1]:{PORT} {HOST_KEY}\n")
    with open(os.path.join(ssh, "config"), "w") as f:
        f.write(f"Host box\n  HostName 127.0.0.1\n  Port {PORT}\n  User dtu-remote\n  IdentityFile {ssh}/client\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {ssh}/known_hosts\n  StrictHostKeyChecking yes\n")
    os.makedirs(os.path.join(root, "bin"))
    with open(os.path.join(root, "bin", "ssh"), "w") as f:
        f.write(f'#!/bin/sh\nexec /usr/bin/ssh -F {ssh}/config "$@"\n')
    os.chmod(os.path.join(root, "bin", "ssh"), 0o755)
    subprocess.run(["chown", "-R", f"{LAPTOP_UID}:{LAPTOP_UID}", root], check=True)
    for name in ("client", "config"):
        os.chmod(os.path.join(ssh, name), 0o600)


def cli(root, args, docker_group):
    groups = f"--groups={DOCKER_GID}" if docker_group else "--clear-groups"
    env = {"HOME": root, "PATH": f"{root}/bin:/usr/bin:/bin", "DIMTENSOR_UP_STATE_DIR": f"{root}/state",
           "XDG_RUNTIME_DIR": f"{root}/xdg"}
    cmd = ["setpriv", f"--reuid={LAPTOP_UID}", f"--regid={LAPTOP_UID}", groups, "env", *[f"{k}={v}" for k, v in env.items()], BIN, *args]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=f"{root}/work", capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return time.perf_counter() - start


def main():
    local, cold, warm, reuse = [], [], [], []
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(f"{root}/work")
        laptop(root)
        for _ in range(REPS):
            local.append(cli(root, LAB, True))
            cli(root, ["stop", "-q"], True)
            subprocess.run(["setpriv", f"--reuid={LAPTOP_UID}", f"--regid={LAPTOP_UID}", "--clear-groups", f"{root}/bin/ssh",
                            "-o", f"ControlPath={root}/state/ssh/%C", "-O", "exit", "box"], capture_output=True)
            cold.append(cli(root, ["--host", "ssh://box", *LAB], False))
            reuse.append(cli(root, ["--host", "ssh://box", *LAB], False))
            cli(root, ["--host", "ssh://box", "stop", "-q"], False)
            warm.append(cli(root, ["--host", "ssh://box", *LAB], False))
            cli(root, ["--host", "ssh://box", "stop", "-q"], False)
    med = statistics.median
    print(json.dumps({
        "reps": REPS,
        "time_to_ready_s": {"local": round(med(local), 3),
                            "ssh_with_log_in": round(med(cold), 3), "ratio_with_log_in": round(med(cold) / med(local), 3),
                            "ssh_master_open": round(med(warm), 3), "ratio_master_open": round(med(warm) / med(local), 3)},
        "reuse_running_remote_server_s": round(med(reuse), 3),
    }, indent=2))


if __name__ == "__main__":
    main()
