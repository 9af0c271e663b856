#!/usr/bin/env python3
"""The dependencies against deny.toml, offline: every crate's licence is allowed (an SPDX
expression: one alternative of an OR whose AND terms are all allowed), and no crate comes in two
versions unless [bans].skip lists the older one. cargo-deny runs the same file on GitHub, with
the RustSec advisories. Prints what fails and exits 1."""
import collections
import json
import re
import subprocess
import sys
import tomllib

policy = tomllib.load(open("deny.toml", "rb"))
allowed = set(policy["licenses"]["allow"])
skipped = {entry["crate"] for entry in policy["bans"].get("skip", [])}
meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--locked", "--offline"],
    check=True, capture_output=True, text=True).stdout)


def acceptable(expression: str) -> bool:
    # Old crates write "MIT/Apache-2.0" for "MIT OR Apache-2.0".
    text = expression.replace("/", " OR ").replace("(", " ( ").replace(")", " ) ")
    tokens = text.split()
    pos = 0

    def term():
        nonlocal pos
        if tokens[pos] == "(":
            pos += 1
            value = either()
            pos += 1  # ")"
            return value
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "WITH":
            name = f"{name} WITH {tokens[pos + 1]}"
            pos += 2
        return name in allowed

    def joined(word, inner, combine):
        def parse():
            nonlocal pos
            value = inner()
            while pos < len(tokens) and tokens[pos] == word:
                pos += 1
                value = combine(inner(), value)
            return value
        return parse

    both = joined("AND", term, lambda a, b: a and b)
    either = joined("OR", both, lambda a, b: a or b)

    return either()


problems = []
versions = collections.defaultdict(list)
for package in meta["packages"]:
    if package["source"] is None:
        continue  # this crate
    versions[package["name"]].append(package["version"])
    licence = package.get("license")
    if not licence:
        problems.append(f"{package['name']} {package['version']}: no SPDX licence in its Cargo.toml")
    elif not acceptable(licence):
        problems.append(f"{package['name']} {package['version']}: licence {licence!r} is not allowed by deny.toml")
for name, found in sorted(versions.items()):
    if len(found) < 2:
        continue
    newest = max(found, key=lambda v: [int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v)])
    unlisted = [v for v in found if v != newest and f"{name}@{v}" not in skipped]
    if unlisted:
        problems.append(f"{name}: versions {', '.join(sorted(found))}; add the older ones to deny.toml's [bans].skip with why, or align them")
stale = [s for s in skipped if s.split("@")[0] not in versions or s.split("@")[1] not in versions[s.split("@")[0]]]
problems += [f"deny.toml skips {s}, which is no longer a dependency" for s in stale]
for p in problems:
    print(f"deps: {p}", file=sys.stderr)
print(f"deps: {len(versions)} crates, licences allowed, {sum(len(v) > 1 for v in versions.values())} listed duplicates"
      if not problems else f"deps: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
