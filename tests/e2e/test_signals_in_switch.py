"""SIGINT and SIGTERM arriving in the middle of a switch, at a chosen AWS call.

The signal is sent while moto handles the call, before the answer returns: the run must finish
the listener it is moving (never stop between its delete and its create), stop at once after it,
say where each listener is and how to finish, and leave a record that `status` reports.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.listeners import POLICIES, add_policies, assert_converged, lock_holder, policies
from tests.e2e.runs import start, status
from tests.e2e.world import App

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def deploy(app: App, commit: str, *extra: str) -> None:
    result = app.bluegreen("deploy", "--commit", commit, *extra)
    assert result.returncode == 0, result.stderr


def signalled_at(
    app: App, signum: signal.Signals, action: str, nth: int, *argv: str
) -> tuple[int, str]:
    """Run `bluegreen argv...`; send `signum` while moto handles its nth `action` request."""
    pids: list[int] = []
    app.sandbox.aws.faults.after(action, lambda: os.kill(pids[0], signum), nth=nth)
    run = start(app, *argv)
    pids.append(run.proc.pid)
    return run.finish(timeout=60)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_between_a_delete_and_its_create_finishes_that_listener_then_stops(
    app: App, signum: signal.Signals
) -> None:
    add_policies(app)
    deploy(app, V1)

    code, stderr = signalled_at(
        app,
        signum,
        "DeleteLoadBalancerListeners",
        1,
        "deploy",
        "--commit",
        V2,
        "--deployment-id",
        "d-STOPPED",
    )

    assert code == CODES[signum], stderr
    assert (
        f"stopped by {signum.name}: listeners 80 on blue, 443 on green; health check on green"
        in stderr
    )
    assert "bluegreen repair" in stderr and "Traceback" not in stderr
    listeners = app.listeners()
    assert listeners[80]["InstancePort"] == app.blue
    assert listeners[443]["InstancePort"] == app.green
    assert listeners[443]["SSLCertificateId"] == app.certificate
    assert policies(app) == POLICIES
    assert lock_holder(app) is None
    code, _, report = status(app)
    assert code == 4 and "a switch to blue (deploy d-STOPPED) did not finish" in report

    deploy(app, V2, "--deployment-id", "d-STOPPED")
    assert_converged(app, "blue")


def test_a_signal_after_the_last_listener_stops_before_the_health_check(app: App) -> None:
    add_policies(app)
    deploy(app, V1)
    deploy(app, V2)

    code, stderr = signalled_at(
        app, signal.SIGTERM, "CreateLoadBalancerListeners", 2, "rollback", "--force"
    )

    assert code == 143, stderr
    assert "listeners 80 on green, 443 on green; health check on blue" in stderr
    assert policies(app) == POLICIES
    assert status(app)[0] == 4

    repaired = app.bluegreen("repair")
    assert repaired.returncode == 0, repaired.stderr
    assert_converged(app, "green")


def test_a_signal_during_the_health_check_lets_the_switch_complete(app: App) -> None:
    add_policies(app)
    deploy(app, V1)

    code, stderr = signalled_at(
        app, signal.SIGTERM, "ConfigureHealthCheck", 1, "deploy", "--commit", V2
    )

    assert code == 143, stderr
    assert "stopped by SIGTERM: the switch to blue is complete" in stderr
    assert_converged(app, "blue")
