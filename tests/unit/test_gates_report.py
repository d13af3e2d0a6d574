"""gates.report: what a failure message says about the attempts it summarises."""

from __future__ import annotations

from bluegreen_hooks.gates.report import (
    MAX_ATTEMPTS_KEPT,
    GateReport,
    GateResult,
    kept,
    summarise_attempts,
)


def test_equal_outcomes_in_a_row_are_counted_once() -> None:
    attempts = ["connection refused"] * 3 + ["500 Internal Server Error"] * 4 + ["200 OK"]

    assert summarise_attempts(attempts) == (
        "connection refused x3, then 500 Internal Server Error x4, then 200 OK"
    )


def test_a_long_story_keeps_its_beginning_and_end() -> None:
    attempts = [f"{500 + i % 2} x" for i in range(20)]  # alternating: 20 runs of one

    summary = summarise_attempts(attempts)

    assert summary.startswith("500 x, then 501 x, then 500 x, then (14 more), then ")
    assert summary.endswith("then 501 x")


def test_a_report_keeps_at_most_its_limit_of_attempts_naming_how_many_it_left_out() -> None:
    attempts = [str(i) for i in range(MAX_ATTEMPTS_KEPT + 50)]

    shown = kept(attempts)

    assert len(shown) == MAX_ATTEMPTS_KEPT + 1
    assert shown[0] == "0" and shown[-1] == str(MAX_ATTEMPTS_KEPT + 49)
    assert "... 50 more ..." in shown


def test_the_failure_names_phase_gate_color_port_and_a_commands_last_lines() -> None:
    report = GateReport(
        phase="after-switch",
        color="blue",
        port=30001,
        results=(
            GateResult("structure", "structure", True, "fine"),
            GateResult(
                "command ./smoke.sh", "command", False, "exit 3 after 0.2 s", output=("a", "b")
            ),
        ),
    )

    assert not report.passed
    assert report.failure() == (
        "after-switch gate command ./smoke.sh failed on blue (port 30001): exit 3 after 0.2 s\n"
        "  last output:\n  | a\n  | b"
    )
    assert report.to_json()["gates"][1] == {
        "gate": "command ./smoke.sh",
        "kind": "command",
        "passed": False,
        "summary": "exit 3 after 0.2 s",
        "attempts": [],
        "output": ["a", "b"],
        "seconds": 0.0,
    }
