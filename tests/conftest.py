"""Session-wide checks. Least privilege: every operation the product performed against the
sandbox during the whole session (every worker, every subprocess) must be granted by
docs/iam-policy.json and docs/rbac.yaml, and after a whole-suite run nothing they grant may
go unused. A mismatch fails the session (and with it `make test`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.operations import OPERATIONS_ENV
from tests import permissions

_FINDINGS = pytest.StashKey[list[str]]()
_FOLDER = pytest.StashKey[Path]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """The controller makes the folder; xdist workers and every subprocess inherit the env."""
    if _is_worker(config) or os.environ.get(OPERATIONS_ENV):
        return
    folder = Path(tempfile.mkdtemp(prefix="bluegreen-operations-"))
    os.environ[OPERATIONS_ENV] = str(folder)
    config.stash[_FOLDER] = folder


def _whole_suite(session: pytest.Session) -> bool:
    """Every test ran (no selection) and passed: only then is an unused grant meaningful."""
    config = session.config
    tests_root = config.rootpath / "tests"
    chosen = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    return (
        bool(chosen)
        and chosen <= {tests_root, config.rootpath}
        and not config.option.keyword
        and not config.option.markexpr
        and not config.getoption("deselect", None)
        and not config.getoption("lf", False)
        and session.testsfailed == 0
        and session.testscollected > 0
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    folder = session.config.stash.get(_FOLDER, None)
    if folder is None:
        return
    os.environ.pop(OPERATIONS_ENV, None)
    aws, kube = permissions.read_records(folder)
    shutil.rmtree(folder, ignore_errors=True)
    findings = permissions.compare(aws, kube, whole_suite=_whole_suite(session)).lines()
    session.config.stash[_FINDINGS] = findings
    if findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    findings = terminalreporter.config.stash.get(_FINDINGS, [])
    if findings:
        terminalreporter.section("least privilege", sep="=", red=True, bold=True)
        for line in findings:
            terminalreporter.write_line(line, red=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` run first, so that in a parallel run none of them ends it alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
