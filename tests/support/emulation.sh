#!/usr/bin/env bash
# TEST TOOLING ONLY. Lets this machine run linux/ARCH binaries (images built and run for Apple
# Silicon on an amd64 machine): QEMU user emulation registered with binfmt_misc, flags F (the
# interpreter is opened once, so it works inside containers) and P. Needs root.
set -euo pipefail
arch="${1:-arm64}"
case "$arch" in
  arm64) qemu=aarch64 ;;
  *) echo "emulation: no QEMU mapping for $arch" >&2; exit 1 ;;
esac
if [ "$(uname -m)" = "$qemu" ]; then exit 0; fi
if [ ! -e /usr/libexec/qemu-binfmt/$qemu-binfmt-P ] && ! command -v qemu-$qemu-static >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support >/dev/null
fi
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-$qemu ] || update-binfmts --import qemu-$qemu >/dev/null 2>&1 || true
update-binfmts --enable qemu-$qemu >/dev/null 2>&1 || true
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-$qemu || { echo "emulation: qemu-$qemu is not enabled in binfmt_misc" >&2; exit 1; }
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-$qemu || { echo "emulation: qemu-$qemu lacks the F flag (containers cannot use it)" >&2; exit 1; }
