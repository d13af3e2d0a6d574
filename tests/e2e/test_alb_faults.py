"""An ALB switch killed or refused halfway: no port ever loses its listener or forward target,
and the documented recovery converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.alb import AlbApp, make_alb_app
from tests.e2e.crash import run_until_killed

V1 = "1111111aaaaaaaa"


@pytest.fixture
def alb(sandbox: Sandbox, tmp_path: Path) -> AlbApp:
    return make_alb_app(sandbox, tmp_path)


def test_a_rollback_killed_between_listeners_is_recorded_and_finished_by_its_rerun(
    alb: AlbApp,
) -> None:
    result = alb.app.bluegreen("deploy", "--commit", V1)
    assert result.returncode == 0, result.stderr
    faults = alb.app.sandbox.aws.faults

    run_until_killed(
        alb.app, "rollback", "--force", arm=lambda kill: faults.after("ModifyListener", kill)
    )

    weights = alb.default_weights()
    assert sorted(w["green"] for w in weights.values() if w) == [0, 100]  # one moved, none lost
    assert "bluegreen-switch" in alb.tags()
    status = alb.app.bluegreen("status")
    assert status.returncode == 4
    assert "a switch to blue (rollback" in status.stderr and "did not finish" in status.stderr
    rerun = alb.app.bluegreen("rollback", "--force")
    assert rerun.returncode == 0, rerun.stderr
    assert alb.colors() == {"blue"}  # the rollback finished, not undone
    assert "bluegreen-switch" not in alb.tags()
    assert alb.app.status()["active"]["color"] == "blue"


def test_a_deploy_killed_between_listeners_is_finished_by_deploying_again(alb: AlbApp) -> None:
    faults = alb.app.sandbox.aws.faults

    run_until_killed(
        alb.app, "deploy", "--commit", V1, arm=lambda kill: faults.after("ModifyListener", kill)
    )

    assert sorted(w["green"] for w in alb.default_weights().values() if w) == [0, 100]
    assert "bluegreen-switch" in alb.tags()
    rerun = alb.app.bluegreen("deploy", "--commit", V1)
    assert rerun.returncode == 0, rerun.stderr
    assert "finishing an interrupted switch" in rerun.stderr
    assert alb.colors() == {"green"}
    assert "bluegreen-switch" not in alb.tags()
    assert alb.app.status()["active"] == {"color": "green", "port": alb.app.green, "commit": V1}


def test_a_stepped_deploy_killed_mid_step_is_an_unfinished_shift_that_rollback_ends(
    alb: AlbApp,
) -> None:
    faults = alb.app.sandbox.aws.faults

    run_until_killed(
        alb.app,
        "deploy",
        "--commit",
        V1,
        "--steps",
        "20,100",
        arm=lambda kill: faults.after("ModifyListener", kill),
    )

    assert "bluegreen-switch" in alb.tags()
    status = alb.app.bluegreen("status")
    assert status.returncode == 4
    assert "a switch to green" in status.stderr and "did not finish" in status.stderr
    rollback = alb.app.bluegreen("rollback")
    assert rollback.returncode == 0, rollback.stderr
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()


def test_a_refused_rule_move_sends_the_moved_listeners_back(alb: AlbApp) -> None:
    alb.add_rule(80, "/api/*", alb.arns["blue"], priority=7)
    alb.app.sandbox.aws.faults.refuse("ModifyRule")
    try:
        result = alb.app.bluegreen("deploy", "--commit", V1)
    finally:
        alb.app.sandbox.aws.faults.clear()

    assert result.returncode == 1
    assert "could not point listener 80 rule 7" in result.stderr
    assert "every listener is back where it was" in result.stderr
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()  # recorded (two places), cleared once back
    [rule] = alb.rules(80)
    assert alb.weights(rule["Actions"]) == {"blue": 100, "green": 0}


def test_a_refused_listener_move_changes_nothing(alb: AlbApp) -> None:
    before = alb.listeners()
    alb.app.sandbox.aws.faults.refuse("ModifyListener")
    try:
        result = alb.app.bluegreen("deploy", "--commit", V1)
    finally:
        alb.app.sandbox.aws.faults.clear()

    assert result.returncode == 1
    assert "AccessDenied" in result.stderr
    assert alb.listeners() == before


def test_a_shift_killed_before_its_record_was_cleared_is_finished_by_repair(alb: AlbApp) -> None:
    faults = alb.app.sandbox.aws.faults

    run_until_killed(  # the 4th ModifyListener is 443's last move; the record clear comes next
        alb.app,
        "deploy",
        "--commit",
        V1,
        "--steps",
        "50,100",
        arm=lambda kill: faults.after("ModifyListener", kill, nth=4),
    )

    assert alb.colors() == {"green"}
    assert "bluegreen-switch" in alb.tags()
    status = alb.app.bluegreen("status")
    assert status.returncode == 4
    assert "did not finish" in status.stderr
    repaired = alb.app.bluegreen("repair")
    assert repaired.returncode == 0, repaired.stderr
    assert alb.colors() == {"green"}
    assert "bluegreen-switch" not in alb.tags()
    assert alb.app.status()["active"]["color"] == "green"


@pytest.mark.slow
def test_steps_and_rollback_get_through_throttling(alb: AlbApp) -> None:
    faults = alb.app.sandbox.aws.faults
    before = faults.injected["Throttling"] + faults.injected["ServiceUnavailable"]
    faults.transient(0.25, seed=9)
    try:
        deployed = alb.app.bluegreen("deploy", "--commit", V1, "--steps", "30,100")
        rolled_back = alb.app.bluegreen("rollback", "--force")
    finally:
        faults.clear()

    assert deployed.returncode == 0, deployed.stderr
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert faults.injected["Throttling"] + faults.injected["ServiceUnavailable"] > before
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()
