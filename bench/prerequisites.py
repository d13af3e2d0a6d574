"""The baselines' tools: jq and curl from Debian, awscli from PyPI in a venv of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


class MissingTool(Exception):
    """A tool the baselines need is missing and cannot be installed here; says what to do."""


def debian_tool(name: str) -> str:
    """Path of `name`; installed with apt-get when missing and running as root."""
    found = shutil.which(name)
    if found:
        return found
    if os.geteuid() != 0:
        raise MissingTool(
            f"`{name}` is missing: the baseline scripts use it the way the seed's shell did. "
            f"Install it (`sudo apt-get install -y {name}`) and run `make bench` again."
        )
    print(f"bench: installing {name} with apt-get", file=sys.stderr)
    install = ["apt-get", "install", "-y", "--no-install-recommends", name]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        result = subprocess.run(install, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise MissingTool(f"`apt-get install -y {name}` failed:\n{result.stderr[-2000:]}")
    found = shutil.which(name)
    if not found:
        raise MissingTool(f"`{name}` is still not on PATH after apt-get install")
    return found


def awscli(venv: Path) -> Path:
    """The `aws` of a venv holding only awscli (it pins botocore), created on first use."""
    aws = venv / "bin" / "aws"
    stamp = venv / ".installed"
    if stamp.exists() and aws.exists():
        return aws
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = shutil.which("python3") or sys.executable
    print(f"bench: creating {venv} and installing awscli from PyPI", file=sys.stderr)
    steps = [
        [python, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "awscli"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise MissingTool(f"`{' '.join(step)}` failed:\n{result.stderr[-2000:]}")
    stamp.touch()
    return aws


def version(argv: list[str]) -> str:
    """First line a `--version` command prints (stdout or stderr), or `unknown`."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "unknown"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"
