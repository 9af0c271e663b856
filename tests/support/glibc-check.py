#!/usr/bin/env python3
"""The newest glibc symbol version an ELF binary needs, against a ceiling: old Linux (glibc 2.17:
RHEL/CentOS 7, Ubuntu 14.04 and everything since) starts it only when none is newer.
  glibc-check.py BINARY [--max 2.17]   exits 1 naming the symbols that need more."""
import re
import subprocess
import sys

args = sys.argv[1:]
ceiling = "2.17"
if "--max" in args:
    i = args.index("--max")
    ceiling = args[i + 1]
    del args[i:i + 2]
(binary,) = args


def version(text):
    return tuple(int(x) for x in text.split("."))


symbols = subprocess.run(["objdump", "-T", binary], check=True, capture_output=True, text=True).stdout
needs = {}
for line in symbols.splitlines():
    match = re.search(r"\(?GLIBC_(\d+(?:\.\d+)+)\)?\s+(\S+)\s*$", line)
    if match:
        needs.setdefault(match.group(1), []).append(match.group(2))
if not needs:
    print(f"{binary}: needs no versioned glibc symbols (static?)")
    sys.exit(0)
newest = max(needs, key=version)
too_new = {v: s for v, s in needs.items() if version(v) > version(ceiling)}
if too_new:
    for v in sorted(too_new, key=version):
        print(f"{binary}: GLIBC_{v} (newer than {ceiling}): {', '.join(sorted(set(too_new[v]))[:8])}", file=sys.stderr)
    sys.exit(1)
print(f"{binary}: needs glibc {newest} at most (ceiling {ceiling})")
