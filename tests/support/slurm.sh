#!/usr/bin/env bash
# TEST TOOLING ONLY (as root). A one-node Slurm cluster on this machine, behind the loopback sshd
# (tests/support/sshd.sh) as its login node: Debian's slurm-wlm and munge, slurmctld and slurmd
# started here, the node `dtu-node1` (this machine, NodeAddr 127.0.0.1) with two "GPUs" as gres
# (AutoDetect=off, File= null character devices made with mknod), and partitions
#   debug    (default; 30 min at most)
#   gpu      (10 min at most)
#   physics  (only the account `physics`, which no job can have: there is no accounting
#            database, so Slurm refuses every account there, as a site refuses a wrong one)
# Slurm's client commands read /etc/slurm/slurm.conf, which this writes (and removes on stop).
#   tests/support/slurm.sh start   # prints NAME=VALUE lines for the tests
#   tests/support/slurm.sh stop
#   tests/support/slurm.sh drain|resume   # the node (a pending job's reason, then its start)
set -euo pipefail
# shellcheck source=tests/support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"
state=/run/dimtensor-up-slurm
conf=/etc/slurm/slurm.conf

case "${1:-}" in
  start)
    if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
      echo "slurm: installing slurm-wlm and munge" >&2
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
      rm -f /usr/sbin/policy-rc.d
    fi
    mkdir -p "$state/ctld" "$state/d" /run/munge /etc/slurm
    chown munge:munge /run/munge && chmod 755 /run/munge
    [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
    if ! [ -S /run/munge/munge.socket.2 ] || ! pgrep -x munged >/dev/null; then
      runuser -u munge -- /usr/sbin/munged --force
      touch "$state/munged.started"
    fi
    for i in 0 1; do
      [ -c "/dev/dtu-gpu$i" ] || mknod -m 666 "/dev/dtu-gpu$i" c 1 3
    done
    cat >"$conf" <<CONF
# Written by dimtensor-up's tests/support/slurm.sh (a one-node test cluster); removed on stop.
ClusterName=dtu
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
KillWait=10
InactiveLimit=0
MpiDefault=none
EnforcePartLimits=ALL
NodeName=dtu-node1 NodeAddr=127.0.0.1 NodeHostname=$(hostname -s) CPUs=$(nproc) RealMemory=2000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=dtu-node1 Default=YES MaxTime=30 State=UP
PartitionName=gpu Nodes=dtu-node1 MaxTime=10 State=UP
PartitionName=physics Nodes=dtu-node1 MaxTime=10 AllowAccounts=physics State=UP
CONF
    printf 'AutoDetect=off\nNodeName=dtu-node1 Name=gpu File=/dev/dtu-gpu[0-1]\n' >/etc/slurm/gres.conf
    # (slurmctld's pid file can name its helper: the daemons are found by name.)
    pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -i
    pgrep -x slurmd >/dev/null || /usr/sbin/slurmd -N dtu-node1
    # Up once idle (a node that comes back from a restart may need resuming).
    node_up() {
      sinfo -h -n dtu-node1 -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)' && return 0
      scontrol update nodename=dtu-node1 state=resume >/dev/null 2>&1 || true
      return 1
    }
    wait_until 30 0.5 node_up || true
    sinfo -h -n dtu-node1 -o '%t' | grep -qE '^(idle|mix|alloc)' || { echo "slurm: the node did not come up:" >&2; tail -n 20 "$state/slurmd.log" "$state/slurmctld.log" >&2; exit 1; }
    echo "DTU_SLURM_NODE=dtu-node1"
    ;;
  drain)
    scontrol update nodename=dtu-node1 state=drain reason=dimtensor-up-test ;;
  resume)
    scontrol update nodename=dtu-node1 state=resume ;;
  stop)
    if [ -f "$state/slurmctld.pid" ]; then
      scontrol shutdown >/dev/null 2>&1 || true
      daemons() { pgrep -x slurmctld || pgrep -x slurmd; }
      wait_until 10 0.2 gone daemons || true
      pkill -x slurmctld 2>/dev/null || true; pkill -x slurmd 2>/dev/null || true
      rm -f "$state/slurmctld.pid" "$state/slurmd.pid"
    fi
    if grep -q "tests/support/slurm.sh" "$conf" 2>/dev/null; then rm -f "$conf" /etc/slurm/gres.conf; fi
    if [ -f "$state/munged.started" ] && [ -f /run/munge/munged.pid ]; then
      kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; rm -f "$state/munged.started"
    fi
    ;;
  *) echo "usage: $0 start | stop | drain | resume" >&2; exit 2 ;;
esac
