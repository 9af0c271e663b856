#!/usr/bin/env bash
# TEST TOOLING ONLY (as root). A "remote GPU workstation" on this machine: Debian's sshd on a
# loopback port with its own host key, and remote users whose keys it accepts:
#   dtu-remote    may use the engine (docker group); its PATH has a stub nvidia-smi, so the
#                 remote GPU probe finds "a GPU" that the laptop does not have
#   dtu-nodocker  may not use the engine (permission denied on the socket)
#   dtu-remote with the second key: a login whose PATH has no docker CLI (dial-stdio exits 127)
#   dtu-remote with the third key: a login whose docker CLI talks to the GPU stub engine
#                 (tests/support/gpu-engine.sh) and whose PATH has its stub NVIDIA hook
#   dtu-remote with the fourth key: the same, but its stub nvidia-smi has a driver too old for
#                 CUDA 12 (the remote's driver, not the laptop's, decides)
# Its home folders are 0700: the laptop user cannot see what is in them.
#   tests/support/sshd.sh start   # prints NAME=VALUE lines for the tests
#   tests/support/sshd.sh stop
set -euo pipefail
# shellcheck source=tests/support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"
state=/run/dimtensor-up-sshd
port=22022

case "${1:-}" in
  start)
    if [ ! -x /usr/sbin/sshd ]; then
      echo "sshd: installing openssh-server" >&2
      # Never let the package start a system sshd (on port 22) here.
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
      rm -f /usr/sbin/policy-rc.d
    fi
    mkdir -p "$state/keys" "$state/bin" "$state/bin-olddriver" /run/sshd
    chmod 755 "$state" "$state/bin" "$state/bin-olddriver"
    for user_uid in dtu-remote:4331 dtu-nodocker:4332; do
      user=${user_uid%%:*} uid=${user_uid##*:}
      if ! getent passwd "$user" >/dev/null; then
        groupadd -g "$uid" "$user" 2>/dev/null || true
        useradd -u "$uid" -g "$uid" -m -d "/home/$user" -s /bin/bash "$user"
      fi
      # "*": no password, but not a locked account (sshd refuses locked ones even for keys).
      usermod -p "*" "$user"
      chmod 700 "/home/$user"
    done
    usermod -aG docker dtu-remote
    [ -f "$state/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/hostkey"
    for key in client client-noclient client-gpu client-olddriver; do
      [ -f "$state/keys/$key" ] || ssh-keygen -q -t ed25519 -N '' -C "dimtensor-up test $key" -f "$state/keys/$key"
    done
    chmod 644 "$state"/keys/*
    # One GPU on a current driver; and one whose driver is older than CUDA 12 needs.
    bash "$(dirname "$0")/stub-nvidia-smi.sh" "$state/bin/nvidia-smi" 550.54.15
    bash "$(dirname "$0")/stub-nvidia-smi.sh" "$state/bin-olddriver/nvidia-smi" 470.256.02
    mkdir -p "$state/authorized"
    remote_path="$state/bin:/usr/local/bin:/usr/bin:/bin"
    {
      echo "environment=\"PATH=$remote_path\" $(cat "$state/keys/client.pub")"
      echo "environment=\"PATH=/nonexistent\" $(cat "$state/keys/client-noclient.pub")"
      echo "environment=\"PATH=/run/dimtensor-up-gpu/bin:$remote_path\",environment=\"DOCKER_HOST=unix:///run/dimtensor-up-gpu/docker.sock\" $(cat "$state/keys/client-gpu.pub")"
      echo "environment=\"PATH=$state/bin-olddriver:/run/dimtensor-up-gpu/bin:/usr/local/bin:/usr/bin:/bin\",environment=\"DOCKER_HOST=unix:///run/dimtensor-up-gpu/docker.sock\" $(cat "$state/keys/client-olddriver.pub")"
    } >"$state/authorized/dtu-remote"
    echo "environment=\"PATH=$remote_path\" $(cat "$state/keys/client.pub")" >"$state/authorized/dtu-nodocker"
    chmod 644 "$state"/authorized/*
    cat >"$state/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $state/hostkey
PidFile $state/sshd.pid
AuthorizedKeysFile $state/authorized/%u
AllowUsers dtu-remote dtu-nodocker
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitUserEnvironment yes
StrictModes no
AllowTcpForwarding local
X11Forwarding no
MaxSessions 64
MaxStartups 64
EOF
    if ! [ -f "$state/sshd.pid" ] || ! kill -0 "$(cat "$state/sshd.pid")" 2>/dev/null; then
      /usr/sbin/sshd -f "$state/sshd_config" -E "$state/sshd.log"
    fi
    listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
    wait_until 5 0.1 listening || true
    echo "DTU_SSH_PORT=$port"
    echo "DTU_SSH_KEYS=$state/keys"
    echo "DTU_SSH_HOST_KEY=$(cut -d' ' -f1-2 "$state/hostkey.pub")"
    ;;
  stop)
    if [ -f "$state/sshd.pid" ]; then kill "$(cat "$state/sshd.pid")" 2>/dev/null || true; rm -f "$state/sshd.pid"; fi
    ;;
  *) echo "usage: $0 start | stop" >&2; exit 2 ;;
esac
