"""How a failed CodeDeploy deployment is reported: the failing event and its script output."""

from __future__ import annotations

import json

from bluegreen_hooks.codedeploy import FailedEvent, Outcome, failure, readable
from bluegreen_hooks.errors import FAILED


def test_our_hooks_json_lines_read_as_level_event_and_fix() -> None:
    line = "[stderr]" + json.dumps(
        {"event": "0/2 replicas Ready", "level": "error", "fix": "see pod events", "x": 1}
    )

    assert readable(line) == "[stderr] error: 0/2 replicas Ready (fix: see pod events)"


def test_other_lines_stay_as_they_are_up_to_a_width() -> None:
    assert readable("[stdout]plain text") == "[stdout] plain text"
    assert readable("Script - hooks/x") == "Script - hooks/x"
    assert readable("[stdout]" + "y" * 500, width=50) == "[stdout] " + "y" * 41


def test_failure_names_the_event_its_message_and_the_tail() -> None:
    tail = "".join(f"[stdout]line {n}\n" for n in range(30))
    outcome = Outcome(
        deployment_id="d-1",
        status="Failed",
        error="HEALTH_CONSTRAINTS: too many instances failed",
        failed_events=(
            FailedEvent(
                target="i-1",
                event="ApplicationStart",
                error_code="ScriptFailed",
                script="hooks/application-start",
                message="Script at specified location: hooks/application-start failed",
                log_tail=tail,
            ),
        ),
        group_id="g-1",
    )

    error = failure(outcome)

    lines = error.message.splitlines()
    assert lines[0] == "deployment d-1 Failed in ApplicationStart"
    assert lines[1].startswith("ApplicationStart on i-1: Script at specified location")
    assert lines[-1] == "  [stdout] line 29" and "line 9\n" not in error.message
    assert "g-1/d-1/logs/scripts.log" in (error.hint or "")
    assert error.exit_code == FAILED


def test_without_targets_the_deployments_error_is_reported() -> None:
    error = failure(Outcome("d-2", "Stopped", "MANUAL_STOP: stopped by a user"))

    assert error.message == "deployment d-2 Stopped\nMANUAL_STOP: stopped by a user"
