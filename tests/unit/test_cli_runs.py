"""A run forked from the zygote behaves as `python -m` started afresh."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import cli_runs

CASES = [
    ("bluegreen_hooks", ["--version"]),
    ("bluegreen_hooks", ["status", "--config", "missing.json"]),
    ("bluegreen_hooks", ["deploy", "--no-such-flag"]),
    ("bluegreen_hooks.oops", ["nope"]),
    ("bluegreen_hooks.oops", ["--help"]),
]


@pytest.mark.parametrize(("module", "argv"), CASES)
def test_a_forked_run_answers_as_a_fresh_interpreter(
    module: str, argv: list[str], tmp_path: Path
) -> None:
    fresh = subprocess.run(
        [sys.executable, "-m", module, *argv], capture_output=True, text=True, cwd=tmp_path
    )
    forked = cli_runs.run(module, *argv, cwd=tmp_path)

    assert (forked.returncode, forked.stdout) == (fresh.returncode, fresh.stdout)
    assert _without_timestamps(forked.stderr) == _without_timestamps(fresh.stderr)


def test_a_run_gets_its_own_folder_argv_environment_and_input(tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps([os.getcwd(), sys.argv[1:], os.environ.get('PROBE'), input()]))\n"
        "sys.exit(3)\n"
    )
    env = {**os.environ, "PROBE": "here"}

    found = cli_runs.run("probe", "a", "b", cwd=tmp_path, env=env, input="typed\n")

    assert found.returncode == 3
    assert json.loads(found.stdout) == [str(tmp_path), ["a", "b"], "here", "typed"]


def test_a_run_past_its_timeout_is_killed() -> None:
    code = "import time; time.sleep(30)"
    with pytest.raises(subprocess.TimeoutExpired):
        cli_runs.run("timeit", "-n1", "-r1", "-s", code, "pass", cwd="/", timeout=0.5)


def _without_timestamps(text: str) -> str:
    return re.sub(r'"timestamp": "[^"]*"', '"timestamp": ""', text)
