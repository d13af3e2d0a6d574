"""kill -9 of a deploy at each Kubernetes step boundary; rerunning it converges.

Each kill leaves the dead deploy's Lease behind: the rerun (a new deployment id) must take it
over within one lease duration, without `unlock`, and end with every listener on one color
whose pods are all Ready, and the lock free.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.crash import FAST_LEASE, assert_converged, run_until_killed
from tests.e2e.test_hooks import COMMIT, SHIMS, agent_env, run_hook, unpack_bundle
from tests.e2e.world import App, lease

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"

KillPoint = Callable[[App], tuple[str, str]]

# (method, request target fragment) of the request after which the deploy of V2 to blue dies.
KILL_POINTS: dict[str, KillPoint] = {
    "after the lock is taken": lambda app: ("POST", "/leases"),
    "after the service apply": lambda app: ("POST", "/services"),
    "after the workload replace": lambda app: ("POST", "/deployments"),
    "at the start of the wait": lambda app: (
        "GET",
        f"/deployments?fieldSelector=metadata.name={app.name}-blue",
    ),
    "during the wait": lambda app: ("WATCH", f"fieldSelector=metadata.name={app.name}-blue"),
}


def deploy(app: App, commit: str) -> str:
    result = app.bluegreen("deploy", "--commit", commit, env=FAST_LEASE)
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.fixture
def slow_pods(app: App) -> Iterator[None]:
    """New pods take a moment to be Ready, so a deploy surely waits on a watch."""
    kube = app.sandbox.kube
    before = kube.ready_delay
    kube.ready_delay = 1.0
    yield None
    kube.ready_delay = before


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_deploy_killed_at_a_kubernetes_step_converges_when_rerun(
    app: App, slow_pods: None, point: str
) -> None:
    deploy(app, V1)  # green live with V1; the next deploy targets blue
    method, fragment = KILL_POINTS[point](app)

    run_until_killed(
        app,
        "deploy",
        "--commit",
        V2,
        arm=lambda kill: app.sandbox.kube.faults.after(method, fragment, kill),
    )
    assert lease(app) is not None  # the dead deploy's lock is left behind
    assert {listener["InstancePort"] for listener in app.listeners().values()} == {app.green}

    rerun = deploy(app, V2)

    assert "taking over the lock from a deploy that stopped renewing it" in rerun
    assert_converged(app, "blue", V2)


def test_an_application_start_hook_killed_while_waiting_is_rerun_at_once(
    app: App, slow_pods: None
) -> None:
    """The rerun of the same hook (same deployment id, same host) is the same holder: it
    carries on at once instead of waiting for its own dead lease to lapse."""
    bundle = unpack_bundle(app, "d-HOOKKILL")
    assert run_hook(app, bundle, "d-HOOKKILL", "BeforeInstall").returncode == 0
    process: list[subprocess.Popen[str]] = []
    app.sandbox.kube.faults.after(
        "WATCH",
        f"fieldSelector=metadata.name={app.name}-green",
        lambda: os.kill(process[0].pid, signal.SIGKILL),
    )
    process.append(
        subprocess.Popen(  # the shim execs Python: the same process id
            [str(bundle / "hooks" / SHIMS["ApplicationStart"])],
            env={**agent_env(app, "d-HOOKKILL", "ApplicationStart"), **FAST_LEASE},
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    _, stderr = process[0].communicate(timeout=120)
    app.sandbox.kube.faults.clear()
    assert process[0].returncode == -signal.SIGKILL, stderr
    assert lease(app) is not None

    rerun = run_hook(app, bundle, "d-HOOKKILL", "ApplicationStart")
    validate = run_hook(app, bundle, "d-HOOKKILL", "ValidateService")

    assert rerun.returncode == 0, rerun.stderr
    assert "waiting to see whether its holder renews it" not in rerun.stderr
    assert validate.returncode == 0, validate.stderr
    assert_converged(app, "green", COMMIT)


def test_a_rollback_killed_while_it_asks_kubernetes_is_rerun(app: App) -> None:
    deploy(app, V1)
    deploy(app, V2)  # blue live with V2; green still has V1, all Ready

    run_until_killed(
        app,
        "rollback",
        arm=lambda kill: app.sandbox.kube.faults.after(
            "GET", f"/deployments?labelSelector=bluegreen.io/application={app.name}", kill
        ),
    )
    assert {listener["InstancePort"] for listener in app.listeners().values()} == {app.blue}

    rerun = app.bluegreen("rollback", env=FAST_LEASE)

    assert rerun.returncode == 0, rerun.stderr
    assert_converged(app, "green", V1)
