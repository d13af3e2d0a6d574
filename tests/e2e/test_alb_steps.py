"""`deploy --steps`: traffic shifted by weight, checked at each step, and returned in one move."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.alb import AlbApp, Observer, make_alb_app
from tests.e2e.runs import start

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


@pytest.fixture
def alb(sandbox: Sandbox, tmp_path: Path) -> AlbApp:
    return make_alb_app(sandbox, tmp_path)


def test_steps_shift_weights_in_order_on_every_listener_and_rule(alb: AlbApp) -> None:
    alb.add_rule(443, "/api/*", alb.arns["blue"], priority=5)

    with Observer(alb) as observer:
        result = alb.app.bluegreen("deploy", "--commit", V1, "--steps", "10,50,100", "--pause", "1")

    assert result.returncode == 0, result.stderr
    assert observer.gaps == []
    assert observer.green_shares(80) == [0, 10, 50, 100]
    assert observer.green_shares(443) == [0, 10, 50, 100]
    assert alb.colors() == {"green"}
    [rule] = alb.rules(443)
    assert alb.weights(rule["Actions"]) == {"blue": 0, "green": 100}
    assert "bluegreen-switch" not in alb.tags()
    assert alb.listeners()[443]["Certificates"][0]["CertificateArn"] == alb.app.certificate


@pytest.mark.slow
def test_status_shows_the_split_and_rollback_mid_shift_returns_everything(alb: AlbApp) -> None:
    deploy = start(alb.app, "deploy", "--commit", V1, "--steps", "10,100", "--pause", "120")
    deploy.wait_for('"step checked"')

    report = alb.app.status()
    text = alb.app.bluegreen("status")
    with Observer(alb) as observer:
        rollback = alb.app.bluegreen("rollback")
    code, stderr = deploy.finish()

    assert report["weights"] == {"blue": 90, "green": 10}
    assert report["active"]["color"] == "blue"
    assert "shifting traffic: blue 90%, green 10%" in text.stdout
    assert rollback.returncode == 0, rollback.stderr
    assert observer.gaps == []
    assert observer.green_shares() == [10, 0]  # one move, straight back
    assert code == 1
    assert "was undone meanwhile" in stderr
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()
    assert "weights" not in alb.app.status()


def test_a_step_whose_color_turns_unhealthy_returns_all_traffic(alb: AlbApp) -> None:
    sick = alb.sick_node("green")  # running, so healthy until stopped
    deploy = start(alb.app, "deploy", "--commit", V1, "--steps", "25,100", "--pause", "120")
    deploy.wait_for('"step checked"')

    with Observer(alb) as observer:
        alb.stop(sick)
        code, stderr = deploy.finish()

    assert code == 1
    assert "green failed while taking part of the traffic" in stderr
    assert "traffic returned to the old color" in stderr
    assert observer.gaps == []
    assert observer.green_shares() == [25, 0]
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_shift_returns_all_traffic(alb: AlbApp, signum: int, exit_code: int) -> None:
    deploy = start(alb.app, "deploy", "--commit", V1, "--steps", "10,50,100", "--pause", "120")
    deploy.wait_for('"step checked"')

    deploy.proc.send_signal(signum)
    code, stderr = deploy.finish()

    assert code == exit_code
    assert "traffic returned to the old color" in stderr
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()
    assert alb.app.status()["active"]["color"] == "blue"


def test_a_deploy_killed_mid_shift_is_a_shift_that_status_shows_and_rollback_ends(
    alb: AlbApp,
) -> None:
    deploy = start(alb.app, "deploy", "--commit", V1, "--steps", "30,100", "--pause", "120")
    deploy.wait_for('"step checked"')
    deploy.proc.kill()
    deploy.finish()

    during = alb.app.status()
    rollback = alb.app.bluegreen("rollback")

    assert during["weights"] == {"blue": 70, "green": 30}
    assert rollback.returncode == 0, rollback.stderr
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()


@pytest.mark.slow
def test_steps_then_a_second_release_then_rollback(alb: AlbApp) -> None:
    for commit in (V1, V2):
        result = alb.app.bluegreen("deploy", "--commit", commit, "--steps", "50,100")
        assert result.returncode == 0, result.stderr
    assert alb.colors() == {"blue"}

    result = alb.app.bluegreen("rollback")

    assert result.returncode == 0, result.stderr
    report = json.loads(alb.app.bluegreen("status", "--output", "json").stdout)
    assert report["active"] == {"color": "green", "port": alb.app.green, "commit": V1}


def command_gate(alb: AlbApp, *, exit_code: int) -> dict[str, str]:
    """An after-switch command gate that notes each run in runs.txt, then exits `exit_code`."""
    script = alb.app.folder / "after-check.sh"
    script.write_text(
        '#!/bin/sh\necho "$NEW_COLOR $COMMIT" >> runs.txt\n'
        f"echo 'error rate 9%'\nexit {exit_code}\n"
    )
    script.chmod(0o755)
    return {"command": "./after-check.sh"}


def test_the_after_switch_gates_run_at_every_step(alb: AlbApp) -> None:
    alb.app.settings(gates={"before-switch": [], "after-switch": [command_gate(alb, exit_code=0)]})

    result = alb.app.bluegreen("deploy", "--commit", V1, "--steps", "10,50,100")

    assert result.returncode == 0, result.stderr
    runs = (alb.app.folder / "runs.txt").read_text().splitlines()
    assert runs == [f"green {V1}"] * 3  # after 10% and 50%, then ValidateService's at 100%
    assert alb.colors() == {"green"}


def test_a_failing_after_switch_gate_at_a_step_returns_all_traffic(alb: AlbApp) -> None:
    alb.app.settings(gates={"before-switch": [], "after-switch": [command_gate(alb, exit_code=3)]})

    with Observer(alb) as observer:
        result = alb.app.bluegreen("deploy", "--commit", V1, "--steps", "10,50,100")

    assert result.returncode == 1
    assert "step 10% to green" in result.stderr and "error rate 9%" in result.stderr
    assert observer.gaps == []
    assert observer.green_shares() == [0, 10, 0]
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()
