"""bluegreen_hooks.cli: the argument parser, help texts and how config errors exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bluegreen_hooks import __version__
from bluegreen_hooks.cli import HOOK_EVENTS, build_parser, main

COMMANDS = ("status", "deploy", "rollback", "render", "hook", "sandbox", "demo", "unlock")
EXIT_CODE_LINES = ("0    done", "2    usage or config error", "3    another deploy holds the lock")


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    code = exc.value.code
    assert isinstance(code, int)
    return code


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_exits_0_with_examples_and_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code([command, "--help"]) == 0

    out = capsys.readouterr().out
    assert out.startswith(f"usage: bluegreen {command}")
    assert "examples:" in out
    assert f"bluegreen {command}" in out.split("examples:", 1)[1]
    assert "exit codes:" in out
    for line in EXIT_CODE_LINES:
        assert line in out


def test_top_level_help_lists_commands_examples_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _exit_code(["--help"]) == 0

    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    assert "examples:" in out
    assert "bluegreen deploy --commit" in out
    assert "exit codes:" in out
    assert "130  interrupted" in out
    assert "143  terminated (SIGTERM)" in out


def test_repair_chooses_its_color_unless_told() -> None:
    assert build_parser().parse_args(["repair"]).color is None
    assert build_parser().parse_args(["repair", "--color", "green"]).color == "green"


def test_version_exits_0_and_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--version"]) == 0

    assert capsys.readouterr().out.strip() == f"bluegreen {__version__}"


# --- usage errors exit 2 -------------------------------------------------------------------------


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["launch"]) == 2

    err = capsys.readouterr().err
    assert "invalid choice: 'launch'" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["deploy"],
        ["render"],
        ["hook"],
        ["hook", "AfterInstall"],
        ["render", "--commit", "abc", "--color", "red"],
        ["status", "--output", "yaml"],
        ["status", "--log-format", "xml"],
        ["rollback", "--commit", "abc"],
        ["sandbox", "--ready-delay", "soon"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(argv) == 2

    assert "usage: bluegreen" in capsys.readouterr().err


# --- parsed arguments ----------------------------------------------------------------------------


def test_status_defaults() -> None:
    args = build_parser().parse_args(["status"])

    assert (args.command, args.output, args.config, args.log_format) == (
        "status",
        "text",
        None,
        "auto",
    )


def test_deploy_arguments() -> None:
    args = build_parser().parse_args(
        ["deploy", "--commit", "0a1b2c3", "--config", "app/.oopsrc", "--redeploy"]
    )

    assert args.command == "deploy"
    assert args.commit == "0a1b2c3"
    assert args.config == "app/.oopsrc"
    assert args.redeploy is True
    assert args.deployment_id is None


@pytest.mark.parametrize("event", HOOK_EVENTS)
def test_hook_accepts_each_codedeploy_event(event: str) -> None:
    args = build_parser().parse_args(["hook", event, "--bundle-root", "/opt/bundle"])

    assert (args.command, args.event, args.bundle_root, args.commit) == (
        "hook",
        event,
        "/opt/bundle",
        None,
    )


def test_hook_events_are_the_three_in_appspec() -> None:
    assert HOOK_EVENTS == ("BeforeInstall", "ApplicationStart", "ValidateService")


def test_rollback_force_and_render_color() -> None:
    parser = build_parser()

    assert parser.parse_args(["rollback"]).force is False
    assert parser.parse_args(["rollback", "--force"]).force is True
    assert parser.parse_args(["render", "--commit", "a"]).color is None
    assert parser.parse_args(["render", "--commit", "a", "--color", "blue"]).color == "blue"


def test_sandbox_ready_delay_is_a_number() -> None:
    args = build_parser().parse_args(["sandbox", "--ready-delay", "0.25"])

    assert args.ready_delay == 0.25
    assert args.env_file == "sandbox.env"


# --- config errors through main ------------------------------------------------------------------


@pytest.fixture
def oopsrc_without_elb_name(tmp_path: Path) -> Path:
    path = tmp_path / ".oopsrc"
    path.write_text(
        json.dumps(
            {
                "application-name": "triggers-service",
                "deployment-group": "master",
                "s3-bucket": "octoblu-deploy",
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """main() configures structlog globally; leave it as other tests expect it."""
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_main_returns_2_for_a_config_error(
    oopsrc_without_elb_name: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["status", "--config", str(oopsrc_without_elb_name), "--log-format", "json"])

    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    record = json.loads(line)
    assert record["level"] == "error"
    assert record["exit_code"] == 2
    assert "missing required key 'elb-name'" in record["event"]


def _run_module(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "BLUEGREEN_", "BUNDLE_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", *argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_with_a_bad_config_exits_2_without_traceback(
    oopsrc_without_elb_name: Path, tmp_path: Path
) -> None:
    result = _run_module("status", "--config", str(oopsrc_without_elb_name), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "elb-name" in result.stderr
    assert str(oopsrc_without_elb_name) in result.stderr
    assert result.stdout == ""


def test_status_with_a_missing_config_exits_2_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / ".oopsrc"

    result = _run_module("status", "--config", str(missing), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(missing) in result.stderr
