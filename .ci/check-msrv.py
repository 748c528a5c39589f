#!/usr/bin/env python3
"""Checks that the workspace's `rust-version` is true for the locked dependencies.

Every package in Cargo.lock that declares a `rust-version` must declare one no newer than the
workspace's: otherwise a toolchain the README calls enough cannot build the project. (The
project's own code is checked against the same version by clippy's `incompatible_msrv` lint in
.ci/run.) Exit 1, naming the packages, when one is newer.
"""
import json
import subprocess
import sys


def version(text):
    """`1.88` and `1.88.0` are the same version."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--locked"],
    check=True, capture_output=True, text=True).stdout)
members = set(meta["workspace_members"])
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"every workspace crate must take the workspace's rust-version; found {sorted(map(str, ours))}")
msrv = ours.pop()
newer = sorted(
    (version(p["rust_version"]), p["name"], p["version"])
    for p in meta["packages"]
    if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(msrv))
if newer:
    listed = ", ".join(f"{name} {v} (needs {'.'.join(map(str, rv))})" for rv, name, v in newer)
    sys.exit(f"rust-version {msrv} is not enough for the locked dependencies: {listed}")
print(f"rust-version {msrv}: every locked dependency builds with it")
