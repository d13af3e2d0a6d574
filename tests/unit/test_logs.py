"""Log lines: JSON with the run context for collectors, event first on a terminal, plain errors."""

from __future__ import annotations

import io
import json

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


def test_console_lines_put_what_happened_before_the_context() -> None:
    out = io.StringIO()
    logs.configure("console", stream=out)
    logs.bind(application="web")

    logs.get_logger().info("waiting for pods", progress="1/2 ready")

    text = out.getvalue()
    assert text.index("progress=") < text.index("application=web")


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
