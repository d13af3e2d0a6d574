"""`bluegreen demo` (what `make demo` runs): the whole story passes and teaches the commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.test_sandbox_command import clean_env


@pytest.mark.slow
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
    release_path = commands[
        commands.index("$ bluegreen bundle --commit 3333333dddddddd --upload") : commands.index(
            "$ oops preview"
        )
        + 1
    ]
    assert release_path == [
        "$ bluegreen bundle --commit 3333333dddddddd --upload",
        "$ oops list",
        "$ oops deploy 3333333",
        "$ oops status",
        "$ oops list",
        "$ oops rollback",
        "$ oops preview",
    ]
    assert "triggers-service/triggers-service-3333333dddddddd.zip" in result.stdout
    assert "<- active (blue)" in result.stdout
    answered = [line for line in result.stdout.splitlines() if "/healthcheck -> " in line]
    assert len(answered) == 1, result.stdout  # v2, through its NodePort on the sandbox's node
    assert answered[0].strip().startswith("GET http://127.")
    assert "/healthcheck -> 200 from pod triggers-service-" in answered[0]
    assert answered[0].endswith("image octoblu/triggers-service:2222222bbbbbbbb")
    contexts = [line for line in result.stderr.splitlines() if line.startswith("-- ")]
    deployments = [line for line in contexts if line.startswith("-- triggers-service, deployment ")]
    alb_path = commands[commands.index("$ oops preview") + 1 :]
    assert alb_path == [
        "$ bluegreen status",
        "$ bluegreen deploy --commit 1111111aaaaaaaa",
        "$ bluegreen deploy --commit 2222222bbbbbbbb --steps 10,50,100 --pause 1",
        "$ bluegreen rollback",
        "$ bluegreen status",
    ]
    assert "listeners: 80 -> blue 90% green 10%" not in result.stdout  # steps end at 100
    assert "80 -> green 100%, 443 -> green 100% (certificate kept)" in result.stdout
    # 4 deploys, 2 rollbacks, 1 CodeDeploy deployment; behind the ALB 2 deploys, 1 rollback
    assert len(deployments) == 10
    # a release whose pods are Ready but answer 500 is stopped by the before-switch gate
    gated = commands[commands.index("$ bluegreen deploy --commit unhealthy4eeeee") :][:3]
    assert gated == [
        "$ bluegreen deploy --commit unhealthy4eeeee",
        "$ bluegreen verify --color blue",
        "$ bluegreen verify --phase before-switch --color green",
    ]
    assert "error: before-switch gate http /healthcheck failed on blue" in result.stderr
    assert "500 Internal Server Error x" in result.stderr
    assert "  FAIL  http /healthcheck: no 3 consecutive 2xx from 127." in result.stdout
    assert "Traceback" not in result.stderr
