"""Checks that Cargo.toml's rust-version is at least every locked dependency's (`cargo metadata`):
a rust-version lower than a dependency's is a promise the build cannot keep."""
import json
import subprocess
import sys

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--locked"]))


def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


ours = next(p for p in meta["packages"] if p["id"] in meta["workspace_members"])
needed = max((version(p["rust_version"]), p["name"]) for p in meta["packages"] if p["rust_version"])
if version(ours["rust_version"] or "0") < needed[0]:
    sys.exit(f"error: Cargo.toml says rust-version = {ours['rust_version']}, but {needed[1]} needs "
             f"{'.'.join(map(str, needed[0]))}\nhint: raise rust-version in Cargo.toml")
print(f"rust-version {ours['rust_version']} covers every locked dependency (the highest: {needed[1]}, "
      f"{'.'.join(map(str, needed[0]))})")
