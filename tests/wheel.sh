#!/usr/bin/env bash
# The wheel as researchers install it (pip, pipx, uv tool), checked on this machine; documented
# in CONTRIBUTING.md, not run by CI (a release build of its own: ~10 min cold on 2 cores).
#  1. builds the x86_64 manylinux2014 wheel with maturin and zig (both from PyPI);
#  2. checks the glibc symbol versions its binary needs: 2.17 at most;
#  3. as root, runs that binary in a Debian 11 root file system (glibc 2.31, below the 2.34 the
#     old ubuntu-24.04 builds needed), where a binary built against this machine's glibc fails;
#  4. installs the wheel into a fresh virtual environment and runs the installed command:
#     --version (timed), doctor --json, and a detached base lab answered with its token;
#  5. prints the wheel's and the binary's sizes.
# Needs a Docker engine with the jupyter-base image (tests/run.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
cache=/var/cache/dimtensor-up
[ "$(id -u)" = 0 ] || cache="${XDG_CACHE_HOME:-$HOME/.cache}/dimtensor-up"
tools="$cache/wheel-tools"
if ! [ -x "$tools/bin/maturin" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q maturin==1.16.0 ziglang==0.17.1
fi
work=$(mktemp -d /tmp/dimtensor-up-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== build (maturin --zig, manylinux2014)"
t0=$SECONDS
PATH="$tools/bin:$PATH" CARGO_TARGET_DIR="$cache/wheel-target" \
  maturin build --release --locked --zig --target x86_64-unknown-linux-gnu \
  --compatibility manylinux2014 --out "$work/dist" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
echo "built $(basename "$wheel") in $((SECONDS - t0)) s"
case "$(basename "$wheel")" in
  *manylinux_2_17_x86_64*|*manylinux2014_x86_64*) ;;
  *) echo "error: the wheel is not tagged manylinux2014 (2_17) x86_64: $wheel" >&2; exit 1 ;;
esac

echo "== the binary's glibc symbol versions"
mkdir "$work/unpacked"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$work/unpacked"
binary=$(find "$work/unpacked" -path '*.data/scripts/dimtensor-up' -type f)
chmod +x "$binary"
python3 tests/support/glibc-check.py "$binary" --max 2.17

if [ "$(id -u)" = 0 ]; then
  echo "== an older Linux: Debian 11 (glibc 2.31)"
  old="$cache/bullseye-root"
  if ! [ -x "$old/bin/sh" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    rm -rf "$old"
    debootstrap --variant=minbase bullseye "$old" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
      || { tail -n 20 "$work/debootstrap.log"; exit 1; }
  fi
  echo "its glibc: $(chroot "$old" /usr/bin/ldd --version | head -n 1)"
  cp "$binary" "$old/tmp/dimtensor-up-2.17"
  chroot "$old" /tmp/dimtensor-up-2.17 --version
  # The control: the same program linked against this machine's glibc does not start there.
  host_built="${CARGO_TARGET_DIR:-$cache/target}/debug/dimtensor-up"
  [ -x "$host_built" ] || host_built="$repo/target/debug/dimtensor-up"
  if [ -x "$host_built" ]; then
    cp "$host_built" "$old/tmp/dimtensor-up-host"
    if chroot "$old" /tmp/dimtensor-up-host --version >"$work/host.out" 2>&1; then
      echo "error: the control (built against glibc $(ldd --version | head -n 1 | awk '{print $NF}')) started on glibc 2.31: the check proves nothing" >&2
      exit 1
    fi
    echo "control: the binary built against this machine's glibc fails there: $(grep -o "GLIBC_[0-9.]*' not found" "$work/host.out" | head -n 1)"
  fi
  rm -f "$old/tmp/dimtensor-up-2.17" "$old/tmp/dimtensor-up-host"
fi

echo "== installed into a fresh virtual environment"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"
installed="$work/venv/bin/dimtensor-up"
"$installed" --version
python3 - "$installed" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(30):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "--version"], check=True, capture_output=True)
    runs.append(time.perf_counter() - t)
runs.sort()
print(f"--version: median {runs[15] * 1000:.1f} ms, fastest {runs[0] * 1000:.1f} ms (30 runs, process start included)")
PY
"$installed" doctor --json | python3 -c 'import json, sys; r = json.load(sys.stdin); print("doctor --json: engine", r["engine"]["address"], "reachable:", r["engine"]["reachable"])'
mkdir "$work/project"
url=$(cd "$work/project" && "$installed" jupyter --variant base --detach --no-browser --pull never)
echo "lab: ${url%%\?*}?token=…"
python3 - "$url" <<'PY'
import sys, urllib.parse, urllib.request
url = sys.argv[1]
parts = urllib.parse.urlsplit(url)
token = urllib.parse.parse_qs(parts.query)["token"][0]
status = urllib.request.urlopen(urllib.request.Request(
    f"{parts.scheme}://{parts.netloc}/api/status", headers={"Authorization": f"token {token}"}), timeout=10).status
print(f"the lab answers its token: HTTP {status}")
sys.exit(0 if status == 200 else 1)
PY
(cd "$work/project" && "$installed" stop)

echo "== sizes"
echo "wheel:  $(du -k "$wheel" | cut -f1) KiB compressed"
echo "binary: $(du -k "$binary" | cut -f1) KiB"
