"""`oops deploy`: a published release through CodeDeploy and the emulated agent, read back."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.releases import (
    GROUP,
    agent_running,
    bucket_of,
    codedeploy,
    deployment,
    lifecycle_events,
    oops,
    publish,
    publishable,
    scripts_log,
    wait_for_end,
)
from tests.e2e.world import App, make_app

V1 = "1111111aaaaaaaa0000000000000000000000000"
BROKEN = "b0000000broken00000000000000000000000000"


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    """A publishable app, with the emulated agent running for this test only."""
    with agent_running(sandbox):
        yield publishable(make_app(sandbox, tmp_path))


def test_oops_deploy_runs_the_hooks_from_the_bundle_and_switches_to_the_new_color(
    app: App,
) -> None:
    key = publish(app, V1)

    result = oops(app, "deploy", V1[:8])

    assert result.returncode == 0, result.stderr
    deployment_id = result.stdout.strip()
    info = deployment(deployment_id)
    assert info["status"] == "Succeeded"
    assert info["applicationName"] == app.name and info["deploymentGroupName"] == GROUP
    location = info["revision"]["s3Location"]
    assert info["revision"]["revisionType"] == "S3"
    assert (location["bucket"], location["key"], location["bundleType"]) == (
        bucket_of(app),
        key,
        "zip",
    )
    events = lifecycle_events(deployment_id)
    assert [e["status"] for e in events.values()] == ["Succeeded"] * 7
    assert app.instance_ports() == {app.green}
    assert app.listeners()[443]["SSLCertificateId"] == app.certificate
    status = json.loads(oops(app, "status").stdout)
    assert status["active"] == {"color": "green", "port": app.green, "commit": V1}
    assert status["off"] == {"color": "blue", "port": app.blue, "commit": None}
    log = scripts_log(app, deployment_id).read_text()
    for event in ("BeforeInstall", "ApplicationStart", "ValidateService"):
        assert f"LifecycleEvent - {event}\n" in log
    done = [line for line in log.splitlines() if '"event": "hook done"' in line]
    assert len(done) == 3 and all("[stderr]{" in line for line in done)


def test_a_release_that_never_becomes_ready_fails_in_application_start_with_traffic_untouched(
    app: App,
) -> None:
    app.settings(**{"ready-timeout": 1})
    publish(app, BROKEN)
    before = app.snapshot()["listeners"], app.health_target()

    result = oops(app, "deploy", BROKEN)

    assert result.returncode == 1, result.stderr
    deployment_id = result.stdout.strip()
    assert deployment(deployment_id)["status"] == "Failed"
    events = lifecycle_events(deployment_id)
    assert events["ApplicationStart"]["status"] == "Failed"
    assert events["ApplicationStart"]["diagnostics"]["errorCode"] == "ScriptFailed"
    assert events["ValidateService"]["status"] == "Skipped"
    assert "in ApplicationStart" in result.stderr
    assert "hooks/application-start failed with exit code 1" in result.stderr
    assert "Ready" in result.stderr  # the tail of the hook's own output says why
    assert (app.snapshot()["listeners"], app.health_target()) == before


def test_oops_deploy_no_wait_prints_the_id_and_returns_while_the_agent_runs_it(app: App) -> None:
    publish(app, V1)

    result = oops(app, "deploy", V1, "--no-wait")

    assert result.returncode == 0, result.stderr
    deployment_id = result.stdout.strip()
    assert deployment(deployment_id)["status"] in ("Created", "InProgress")
    assert wait_for_end(deployment_id)["status"] == "Succeeded"
    assert app.instance_ports() == {app.green}


def test_a_hook_past_its_timeout_is_killed_with_its_children(app: App) -> None:
    pid_file = app.folder / "sleeper.pid"
    (app.folder / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n"
        "  BeforeInstall:\n    - location: hooks/slow\n      timeout: 1\n"
    )
    slow = app.folder / "hooks" / "slow"
    slow.parent.mkdir()
    slow.write_text(f"#!/bin/sh\necho starting\nsleep 300 &\necho $! > {pid_file}\nwait\n")
    slow.chmod(0o755)
    publish(app, V1)
    before = app.snapshot()

    result = oops(app, "deploy", V1)

    assert result.returncode == 1, result.stderr
    deployment_id = result.stdout.strip()
    failed = lifecycle_events(deployment_id)["BeforeInstall"]
    assert failed["status"] == "Failed"
    assert failed["diagnostics"]["errorCode"] == "ScriptTimedOut"
    assert "failed to complete in 1 seconds" in result.stderr
    assert "starting" in failed["diagnostics"]["logTail"]
    assert not alive(int(pid_file.read_text()))
    assert app.snapshot() == before


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_oops_deploy_of_an_unknown_commit_exits_2_listing_the_nearest_releases(app: App) -> None:
    publish(app, V1)

    result = oops(app, "deploy", "1111112")

    assert result.returncode == 2
    assert "nearest releases" in result.stderr and V1 in result.stderr
    assert result.stdout == ""


# The first tenth of a second after the id is printed is spent importing the logger: a Ctrl-C
# landing there used to end in a traceback (exit 1) instead of 130.
@pytest.mark.parametrize("delay", [0.0, 0.03, 0.06, 0.5])
def test_ctrl_c_while_following_exits_130_and_the_deployment_goes_on(
    app: App, delay: float
) -> None:
    publish(app, V1)
    with following(app, V1) as (follower, deployment_id):
        time.sleep(delay)
        follower.send_signal(signal.SIGINT)
        _, stderr = follower.communicate(timeout=60)

    assert follower.returncode == 130
    assert "the deployment goes on in CodeDeploy" in stderr
    assert f"aws deploy stop-deployment --deployment-id {deployment_id}" in stderr
    assert wait_for_end(deployment_id)["status"] == "Succeeded"
    assert app.instance_ports() == {app.green}


def test_a_deployment_stopped_while_followed_exits_1_and_runs_no_further_event(
    app: App,
) -> None:
    go = publish_blocking_release(app)
    before = app.snapshot()
    with following(app, V1) as (follower, deployment_id):
        wait_for_event(deployment_id, "BeforeInstall", "InProgress")
        codedeploy().stop_deployment(deploymentId=deployment_id)
        go.touch()
        _, stderr = follower.communicate(timeout=60)

    assert follower.returncode == 1
    assert f"deployment {deployment_id} Stopped" in stderr and "MANUAL_STOP" in stderr
    events = lifecycle_events(deployment_id)
    assert events["BeforeInstall"]["status"] == "Succeeded"
    assert events["ApplicationStart"]["status"] == "Skipped"
    assert app.snapshot() == before


@contextmanager
def following(app: App, commit: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`oops deploy COMMIT` in a fresh interpreter, and the deployment id it printed once it
    created the deployment; killed on the way out if it is still following."""
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bluegreen_hooks.oops",
            "deploy",
            commit,
            "--config",
            str(app.config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=app.folder,
    )
    try:
        assert follower.stdout is not None
        yield follower, follower.stdout.readline().strip()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def publish_blocking_release(app: App) -> Path:
    """Publish V1 with a BeforeInstall hook that waits for a file; returns that file's path."""
    go = app.folder / "go"
    (app.folder / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n"
        "  BeforeInstall:\n    - location: hooks/wait-for-go\n      timeout: 60\n"
        "  ApplicationStart:\n    - location: hooks/application-start\n      timeout: 900\n"
    )
    hook = app.folder / "hooks" / "wait-for-go"
    hook.parent.mkdir()
    hook.write_text(f"#!/bin/sh\nwhile [ ! -f {go} ]; do sleep 0.05; done\n")
    hook.chmod(0o755)
    publish(app, V1)
    return go


def wait_for_event(deployment_id: str, event: str, status: str) -> None:
    """Poll the deployment's target (there is no watch) until `event` has `status`."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if lifecycle_events(deployment_id)[event]["status"] == status:
                return
        except AssertionError:  # no target yet: the agent has not picked it up
            pass
        assert time.monotonic() < deadline, f"{event} never {status}"
        time.sleep(0.05)


def test_a_second_deploy_while_one_is_active_exits_3_naming_it(app: App) -> None:
    go = publish_blocking_release(app)
    first = oops(app, "deploy", V1, "--no-wait")
    assert first.returncode == 0, first.stderr
    active = first.stdout.strip()
    wait_for_event(active, "BeforeInstall", "InProgress")

    second = oops(app, "deploy", V1)

    go.touch()
    assert second.returncode == 3
    assert f"already has an active Deployment '{active}'" in second.stderr
    assert second.stdout == ""
    assert wait_for_end(active)["status"] == "Succeeded"
