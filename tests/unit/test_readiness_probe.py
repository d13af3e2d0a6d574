"""The rollback's readiness child: its answer parsed, and a slow answer explained while waiting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from structlog.testing import capture_logs

from bluegreen_hooks import logs as product_logs
from bluegreen_hooks.errors import DeployFailed
from bluegreen_hooks.readiness_probe import QUIET_SECONDS, ReadinessProbe


@pytest.fixture(autouse=True)
def configured_logging() -> None:
    product_logs.get_logger()  # configure first, so capture_logs() is what stays in place


ANSWER = {
    "blue": {"ready": 2, "desired": 2, "complete": True},
    "green": {"ready": 0, "desired": 2, "complete": False},
    "lock": None,
}


def probe_answering(after: float, answer: object = ANSWER, code: int = 0) -> ReadinessProbe:
    """A probe whose child answers like `bluegreen readiness` after `after` seconds."""
    script = (
        f"import time, sys; time.sleep({after}); print({json.dumps(json.dumps(answer))}); "
        f"sys.exit({code})"
    )
    probe = ReadinessProbe.__new__(ReadinessProbe)
    probe._child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return probe


def test_a_quick_answer_is_parsed_without_a_word() -> None:
    with capture_logs() as logs:
        result = probe_answering(0).result()

    assert result.colors["blue"].complete and not result.colors["green"].complete
    assert result.lock_holder is None
    assert logs == []


def test_a_slow_answer_says_why_the_rollback_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUEGREEN_LEASE_SECONDS", "7")
    with capture_logs() as logs:
        result = probe_answering(QUIET_SECONDS + 0.5).result()

    assert result.colors["blue"].ready == 2
    assert [entry["event"] for entry in logs] == [
        "waiting for the readiness check (a lock left by a dead deploy lapses within 7 s)"
    ]


def test_an_answer_that_never_comes_is_a_clear_failure() -> None:
    probe = probe_answering(30)
    with pytest.raises(DeployFailed, match="did not answer within 3 s"):
        probe.result(timeout=3)
