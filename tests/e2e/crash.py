"""Killing the CLI at a chosen request, and checking that the world converged afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.e2e.world import App, lease

# Short leases so that a killed deploy stops blocking quickly (the product's default is 20 s).
FAST_LEASE = {"BLUEGREEN_LEASE_SECONDS": "3"}

Arm = Callable[[Callable[[], None]], None]


def run_until_killed(app: App, *argv: str, arm: Arm, env: dict[str, str] | None = None) -> str:
    """Start the CLI, SIGKILL it from the callback `arm` registers; returns its stderr.

    Fails if the process ended on its own: a kill point that is never reached proves nothing.
    """
    process: list[subprocess.Popen[str]] = []

    def kill() -> None:
        os.kill(process[0].pid, signal.SIGKILL)

    arm(kill)  # armed before the process starts, so it cannot run past the point first
    process.append(
        subprocess.Popen(
            [sys.executable, "-m", "bluegreen_hooks", *argv, "--config", str(app.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=app.folder,
            env={**os.environ, **FAST_LEASE, **(env or {})},
        )
    )
    try:
        _, stderr = process[0].communicate(timeout=120)
    finally:
        app.sandbox.aws.faults.clear()
        app.sandbox.kube.faults.clear()
    assert process[0].returncode == -signal.SIGKILL, f"not killed:\n{stderr}"
    return stderr


def ready_pods(app: App, color: str) -> tuple[int, int]:
    """(Ready pods, all pods) of one color."""
    pods = app.pods(color)
    ready = [p for p in pods if _is_ready(p) and p.metadata.deletion_timestamp is None]
    return len(ready), len(pods)


def _is_ready(pod: Any) -> bool:
    conditions = pod.status.conditions or [] if pod.status else []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def assert_converged(app: App, color: str, commit: str) -> None:
    """Every public listener and the health check on `color`, whose pods (of `commit`) are all
    Ready, and the deploy lock free."""
    port = app.port(color)
    listeners = app.listeners()
    assert set(listeners) == {80, 443}, listeners
    assert {listener["InstancePort"] for listener in listeners.values()} == {port}
    assert listeners[443]["SSLCertificateId"] == app.certificate
    assert app.health_target() == f"HTTP:{port}/healthcheck"
    pods = app.pods(color)
    assert pods and all(_is_ready(p) for p in pods), [p.status for p in pods]
    assert {p.metadata.labels["bluegreen.io/commit"] for p in pods} == {commit}
    assert lease(app) is None
