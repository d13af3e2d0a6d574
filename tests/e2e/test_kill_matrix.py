"""The kill matrix: SIGKILL a deploy (and a rollback) at every AWS call of its switch.

Moto handles the request, then the client is killed before the answer reaches it: the worst
moment, since the change is made but the process never learns it. After each kill, `status`
must report the broken state (exit 4, with the fix) unless the switch had finished, and the
documented recovery (rerun the same step, or `bluegreen repair`) must converge: every public
listener with its certificate and policies, all on the color the switch was moving to, the
health check too, no unfinished switch left.

One application per module and worker serves every case: each case first puts the load
balancer back to the same clean state (`reset_router`), so only the switch differs.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from bluegreen_hooks.lock import holder_identity
from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.listeners import (
    add_policies,
    assert_converged,
    delete_listener,
    lock_holder,
    reset_router,
    start_switch,
)
from tests.e2e.runs import Background, start, status
from tests.e2e.test_hooks import SHIMS, agent_env, run_hook, unpack_bundle
from tests.e2e.world import App, make_app

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"

# Every AWS call that changes something in a switch of two listeners with policies, in order.
SWITCH_CALLS = [
    ("AddTags", "record"),
    ("DeleteLoadBalancerListeners", "80"),
    ("CreateLoadBalancerListeners", "80"),
    ("SetLoadBalancerPoliciesOfListener", "80"),
    ("DeleteLoadBalancerListeners", "443"),
    ("CreateLoadBalancerListeners", "443"),
    ("SetLoadBalancerPoliciesOfListener", "443"),
    ("ConfigureHealthCheck", "health"),
    ("RemoveTags", "clear"),
]
WRITES = {action for action, _ in SWITCH_CALLS}


def kill_points() -> list[tuple[str, int]]:
    """(action, how many calls of that action the switch has made so far) for each call."""
    seen: dict[str, int] = {}
    points = []
    for action, _ in SWITCH_CALLS:
        seen[action] = seen.get(action, 0) + 1
        points.append((action, seen[action]))
    return points


POINTS = kill_points()
IDS = [f"{action}-{what}" for action, what in SWITCH_CALLS]


def deploy(app: App, commit: str, *extra: str) -> None:
    result = app.bluegreen("deploy", "--commit", commit, *extra)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def green_live(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> App:
    """V1 live on green; blue empty at first (the deploy under test releases V2 to it)."""
    app = make_app(sandbox, Path(tmp_path_factory.mktemp("deploy-matrix")))
    add_policies(app)
    deploy(app, V1)
    return app


@pytest.fixture(scope="module")
def blue_live(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> App:
    """V2 live on blue, V1 Ready on green: a rollback goes to green."""
    app = make_app(sandbox, Path(tmp_path_factory.mktemp("rollback-matrix")))
    add_policies(app)
    deploy(app, V1)
    deploy(app, V2)
    return app


def kill_at(app: App, action: str, nth: int, *argv: str) -> None:
    """Run `bluegreen argv...`; SIGKILL it right after moto handles its nth `action` request."""
    holder: list[Background] = []
    app.sandbox.aws.faults.after(
        action, lambda: os.kill(holder[0].proc.pid, signal.SIGKILL), nth=nth
    )
    holder.append(start(app, *argv))
    code, stderr = holder[0].finish(timeout=60)
    assert code == -signal.SIGKILL, stderr


def status_after_kill(app: App, *, finished: bool) -> None:
    code, _, stderr = status(app)
    if finished:
        assert code == 0, stderr
        return
    assert code == 4, stderr
    assert "Traceback" not in stderr
    assert "did not finish" in stderr
    assert "bluegreen repair" in stderr


def test_the_matrix_covers_every_aws_write_of_a_switch(blue_live: App) -> None:
    app = blue_live
    reset_router(app, "blue", blue=V2, green=V1)
    app.sandbox.aws.reset_counters()

    assert app.bluegreen("rollback").returncode == 0

    writes = [action for _, action in app.sandbox.aws.request_log if action in WRITES]
    assert writes == [action for action, _ in SWITCH_CALLS]


@pytest.mark.parametrize("recovery", ["rerun", "repair"])
@pytest.mark.parametrize(("action", "nth"), POINTS, ids=IDS)
def test_a_deploy_killed_at_any_call_of_its_switch_recovers(
    green_live: App, action: str, nth: int, recovery: str
) -> None:
    app = green_live
    reset_router(app, "green", green=V1, blue=None)
    # the release writes the blue-commit tag (AddTags) before the switch writes its record
    nth += 1 if action == "AddTags" else 0

    kill_at(app, action, nth, "deploy", "--commit", V2, "--deployment-id", "d-KILLED")

    status_after_kill(app, finished=action == "RemoveTags")
    if recovery == "rerun":
        deploy(app, V2, "--deployment-id", "d-KILLED")
    else:
        result = app.bluegreen("repair")
        assert result.returncode == 0, result.stderr
    # A killed deploy's lock frees itself when its Lease lapses (one lease duration, tested
    # with the lock): repair does not take it, and a rerun that finds V2 live has nothing to do.
    assert lock_holder(app) in (None, holder_identity("d-KILLED"))
    assert_converged(app, "blue", lock_free=False)


@pytest.mark.parametrize(("action", "nth"), POINTS, ids=IDS)
def test_a_rollback_killed_at_any_call_of_its_switch_recovers_when_rerun(
    blue_live: App, action: str, nth: int
) -> None:
    """(`repair` after a killed rollback meets the same states as after a killed deploy.)"""
    app = blue_live
    reset_router(app, "blue", blue=V2, green=V1)

    kill_at(app, action, nth, "rollback", "--force")  # --force: no readiness child to wait for

    finished = action == "RemoveTags"
    status_after_kill(app, finished=finished)
    if not finished:  # the documented recovery: status says whether anything is left to do
        result = app.bluegreen("rollback")
        assert result.returncode == 0, result.stderr
    assert_converged(app, "green")


@pytest.mark.parametrize(
    ("signum", "reruns"),
    [
        (signal.SIGKILL, ("ApplicationStart", "ValidateService")),
        (signal.SIGTERM, ("ApplicationStart", "ValidateService")),
        (signal.SIGKILL, ("ValidateService",)),
    ],
    ids=["KILL", "TERM", "KILL-then-ValidateService-alone"],
)
def test_application_start_stopped_mid_switch_is_finished_by_rerunning_the_hook(
    app: App, signum: signal.Signals, reruns: tuple[str, ...]
) -> None:
    """CodeDeploy kills a hook past its `timeout` (or the host dies); the agent's retry, or a
    person, reruns the same hook of the same deployment (ValidateService, run alone, also
    finishes the switch before it validates)."""
    add_policies(app)
    bundle = unpack_bundle(app, "d-HOOK")
    assert run_hook(app, bundle, "d-HOOK", "BeforeInstall").returncode == 0
    pids: list[int] = []
    app.sandbox.aws.faults.after(
        "DeleteLoadBalancerListeners", lambda: os.kill(pids[0], signum), nth=2
    )
    hook = subprocess.Popen(
        [str(bundle / "hooks" / SHIMS["ApplicationStart"])],
        env=agent_env(app, "d-HOOK", "ApplicationStart"),
        cwd="/",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids.append(hook.pid)
    _, stderr = hook.communicate(timeout=60)

    assert hook.returncode == (-9 if signum == signal.SIGKILL else 143), stderr
    status_after_kill(app, finished=False)
    for event in reruns:
        result = run_hook(app, bundle, "d-HOOK", event)
        assert result.returncode == 0, f"{event}: {result.stderr}"
    assert_converged(app, "green")


def test_a_repair_killed_halfway_is_finished_by_running_it_again(blue_live: App) -> None:
    app = blue_live
    reset_router(app, "blue", blue=V2, green=V1)
    start_switch(app, "green", "deploy")
    delete_listener(app, 80)

    kill_at(app, "CreateLoadBalancerListeners", 1, "repair")

    code, _, stderr = status(app)
    assert code == 4, stderr
    assert "listeners 80 on green without its policies sticky, 443 on blue" in stderr
    again = app.bluegreen("repair")
    assert again.returncode == 0, again.stderr
    assert_converged(app, "green")
