"""Describe the machine and tree a run measured: CPU, cores, Python, OS, tools, commit, date."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def operating_system() -> str:
    pretty = ""
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    kernel = f"{platform.system()} {platform.release()}"
    return f"{pretty} ({kernel})" if pretty else kernel


def tree(repo: Path) -> str:
    """The commit measured, and whether the working tree had uncommitted changes."""

    def git(*argv: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(repo), *argv], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}{' with uncommitted changes' if dirty else ''}"


def describe(repo: Path, tools: dict[str, str]) -> dict[str, str]:
    """Key -> value lines for the page's Machine section."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    facts = {
        "date": now.isoformat().replace("+00:00", "Z"),
        "CPU": f"{cpu_model()}, {os.cpu_count()} cores",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": operating_system(),
        "tree": tree(repo),
    }
    facts.update(tools)
    return facts
