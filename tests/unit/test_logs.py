"""Log lines: JSON with the run context for collectors, event first on a terminal, plain errors."""

from __future__ import annotations

import io
import json
import sys

import pytest

from bluegreen_hooks import logs


def test_json_lines_carry_the_bound_run_context() -> None:
    out = io.StringIO()
    logs.configure("json", stream=out)
    logs.bind(application="web", deployment_id="d-1", new_color="green")
    logs.bind(step="switch")

    logs.get_logger().info("listener switched", listener=80)

    line = json.loads(out.getvalue())
    assert line["event"] == "listener switched"
    assert (line["application"], line["deployment_id"], line["new_color"], line["step"]) == (
        "web",
        "d-1",
        "green",
        "switch",
    )
    assert line["listener"] == 80


def _a_deploy_logged() -> None:
    """The lines a deploy logs, with its context bound as `deploy` binds it."""
    logs.bind(application="triggers-service")
    logs.bind(deployment_id="cli-20261126T150930471319")
    logs.bind(old_color="blue", new_color="green", commit="1111111aaaaaaaa", step="plan")
    log = logs.get_logger()
    log.info("plan ready", port=30002, old_port=30001)
    logs.bind(step="wait")
    log.info("waiting for pods", workload="triggers-service-green", progress="2/2 ready")
    log.info("all replicas ready", color="green", commit="1111111aaaaaaaa")
    logs.bind(step="switch")
    log.info("listener switched", listener=443, instance_port=30002)
    log.warning("health check configured", target="HTTP:30002/healthcheck")


def test_console_shows_the_run_context_once_then_one_short_line_per_event() -> None:
    out = io.StringIO()
    logs.configure("console", stream=out)

    _a_deploy_logged()

    context, *events = out.getvalue().splitlines()
    assert context == (
        "-- triggers-service, deployment cli-20261126T150930471319, blue -> green, "
        "commit 1111111aaaaaaaa"
    )
    assert len(events) == 5
    assert [line.split(" ", 1)[1] for line in events] == [
        "plan: plan ready port=30002 old_port=30001",
        "wait: waiting for pods workload=triggers-service-green progress='2/2 ready'",
        "wait: all replicas ready color=green",
        "switch: listener switched listener=443 instance_port=30002",
        "switch: WARNING: health check configured target=HTTP:30002/healthcheck",
    ]
    assert max(map(len, events)) <= 90


def test_console_shows_the_context_again_when_it_changes() -> None:
    out = io.StringIO()
    logs.configure("console", stream=out)
    logs.bind(application="web", deployment_id="d-1")
    logs.get_logger().info("first")
    logs.get_logger().info("second")
    logs.bind(deployment_id="d-2")
    logs.get_logger().info("third")

    lines = [
        line.split(" ", 1)[-1] if line[0].isdigit() else line
        for line in out.getvalue().splitlines()
    ]
    assert lines == ["-- web, deployment d-1", "first", "second", "-- web, deployment d-2", "third"]


def test_a_hooks_context_names_its_lifecycle_event() -> None:
    out = io.StringIO()
    logs.configure("console", stream=out)
    logs.bind(application="web", deployment_id="d-7", lifecycle_event="ValidateService")
    logs.bind(step="validate")

    logs.get_logger().info("validated", color="green", port=30002)

    assert out.getvalue().splitlines()[0] == "-- web, deployment d-7, ValidateService"
    assert out.getvalue().splitlines()[1].endswith(" validate: validated color=green port=30002")


def test_json_lines_keep_every_field_and_the_context_on_every_line() -> None:
    out = io.StringIO()
    logs.configure("json", stream=out)

    _a_deploy_logged()

    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 5
    for record in records:
        assert record["application"] == "triggers-service"
        assert record["deployment_id"] == "cli-20261126T150930471319"
        assert (record["old_color"], record["new_color"]) == ("blue", "green")
        assert record["commit"] == "1111111aaaaaaaa"
        assert record["timestamp"].endswith("Z")
    assert [r["step"] for r in records] == ["plan", "wait", "wait", "switch", "switch"]
    assert records[1]["progress"] == "2/2 ready"
    assert records[2]["color"] == "green"
    assert (records[4]["level"], records[4]["target"]) == ("warning", "HTTP:30002/healthcheck")


def test_a_failure_reads_as_error_and_fix_on_a_terminal() -> None:
    out = io.StringIO()
    logs.configure("console", stream=out)

    code = logs.report_failure("namespace 'x' does not exist", "create it", 2)

    assert code == 2
    assert out.getvalue() == "error: namespace 'x' does not exist\n  fix: create it\n"


def test_a_failure_is_one_json_line_for_a_collector() -> None:
    out = io.StringIO()
    logs.configure("json", stream=out)
    logs.bind(deployment_id="d-2")

    logs.report_failure("timed out", None, 1)

    line = json.loads(out.getvalue())
    assert (line["event"], line["level"], line["exit_code"], line["deployment_id"]) == (
        "timed out",
        "error",
        1,
        "d-2",
    )


def test_a_failure_is_still_one_json_line_when_logging_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    logs.configure("json", stream=out)
    monkeypatch.setitem(sys.modules, "structlog", None)  # as when a signal cut its import short

    code = logs.report_failure("stopped by SIGTERM", "rerun it", 143)

    line = json.loads(out.getvalue())
    assert code == 143
    assert line.pop("timestamp").endswith("Z")
    assert line == {
        "event": "stopped by SIGTERM",
        "fix": "rerun it",
        "exit_code": 143,
        "level": "error",
    }
