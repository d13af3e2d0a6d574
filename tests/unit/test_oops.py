"""`oops`: each seed habit becomes the `bluegreen` command that does it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bluegreen_hooks import cli
from bluegreen_hooks.oops import USAGE, main, translate

SEED_STATUS = ["status", "--output", "oops"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["rollback"], ["rollback"]),
        (["rollback", "--force"], ["rollback", "--force"]),
        (["rollback", "--current"], ["status", "--output", "oops"]),
        (["rollback", "--current", "--log-format", "json"], [*SEED_STATUS, "--log-format", "json"]),
        (["status"], ["status", "--output", "oops"]),
        (["deploy", "0a1b2c3"], ["redeploy", "0a1b2c3"]),
        (["deploy", "0a1b2c3", "--no-wait"], ["redeploy", "0a1b2c3", "--no-wait"]),
        (["list"], ["releases"]),
        (["list", "--output", "json"], ["releases", "--output", "json"]),
        (["preview"], ["preview"]),
        (["off"], ["preview"]),
    ],
)
def test_each_habit_maps_to_a_bluegreen_command_that_parses(
    argv: list[str], expected: list[str]
) -> None:
    translated = translate(argv)

    assert translated == expected
    cli.build_parser().parse_args(translated)  # a real command line of `bluegreen`


def test_help_lists_every_habit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0

    out = capsys.readouterr().out
    assert out == USAGE
    for habit in ("rollback", "rollback --current", "status", "deploy", "list", "preview", "off"):
        assert f"oops {habit}" in out


@pytest.mark.parametrize("argv", [[], ["deplyo", "abc"]])
def test_no_or_an_unknown_command_exits_2_with_the_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2

    err = capsys.readouterr().err
    assert "usage: oops COMMAND" in err
    assert ("unknown command 'deplyo'" in err) == bool(argv)


def test_a_missing_commit_is_a_usage_error_from_the_bluegreen_parser() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks.oops", "deploy"], capture_output=True, text=True
    )

    assert result.returncode == 2
    assert "commit" in result.stderr
