"""SIGINT and SIGTERM, sent for real to a running `bluegreen`: where it stops and what it says."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.listeners import add_policies, assert_converged, lock_holder
from tests.e2e.runs import start
from tests.e2e.world import App, dead_lock

V1 = "1111111aaaaaaaa"
BROKEN = "broken0dddddddd"
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_during_the_wait_stops_at_once_with_traffic_untouched(
    app: App, signum: signal.Signals
) -> None:
    add_policies(app)
    assert app.bluegreen("deploy", "--commit", V1).returncode == 0
    app.settings(**{"ready-timeout": 120})
    before = app.listeners()
    run = start(app, "deploy", "--commit", BROKEN)
    run.wait_for("waiting for pods")

    run.proc.send_signal(signum)
    code, stderr = run.finish(timeout=30)

    assert code == CODES[signum], stderr
    assert f"stopped by {signum.name}: traffic untouched on green" in stderr
    assert "Traceback" not in stderr
    assert app.listeners() == before
    assert lock_holder(app) is None
    assert_converged(app, "green")


def test_a_signal_while_rollback_waits_for_its_readiness_check_stops_at_once(app: App) -> None:
    assert app.bluegreen("deploy", "--commit", V1).returncode == 0
    # a deploy that died holding the lock: the readiness check watches it for a while
    dead_lock(app, "d-DEAD@elsewhere", seconds=60)
    before = app.snapshot()
    pids: list[int] = []
    app.sandbox.kube.faults.after("WATCH", "/leases", lambda: os.kill(pids[0], signal.SIGTERM))
    run = start(app, "rollback")
    pids.append(run.proc.pid)

    code, stderr = run.finish(timeout=30)

    assert code == 143, stderr
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    assert app.snapshot() == before
