"""`bluegreen demo` (what `make demo` runs): the whole story passes and teaches the commands."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.test_sandbox_command import clean_env


def test_the_demo_tells_the_whole_story_echoing_each_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "demo"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "=== The end" in result.stdout
    commands = [line for line in result.stdout.splitlines() if line.startswith("$ ")]
    assert commands[:3] == [
        "$ bluegreen status",
        "$ bluegreen deploy --commit 1111111aaaaaaaa",
        "$ bluegreen status",
    ]
    assert "$ bluegreen rollback" in commands
    assert "$ bluegreen deploy --commit broken3cccccccc" in commands
    contexts = [line for line in result.stderr.splitlines() if line.startswith("-- ")]
    assert len(contexts) == 4  # one per deploy or rollback, with its own deployment id
    assert all(line.startswith("-- triggers-service, deployment ") for line in contexts)
    assert "Traceback" not in result.stderr
