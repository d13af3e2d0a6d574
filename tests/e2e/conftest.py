"""End-to-end fixtures: one sandbox per test worker, one fresh application per test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.world import App, make_app

if TYPE_CHECKING:
    from tests.e2e.test_sandbox_command import Running


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    saved = dict(os.environ)
    with Sandbox(tmp_path_factory.mktemp("sandbox"), ready_delay=0.2) as running:
        running.apply_env()
        yield running
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> App:
    return make_app(sandbox, tmp_path)


@pytest.fixture
def running_sandboxes() -> Iterator[list[Running]]:
    """Every `bluegreen sandbox` process a test starts is stopped, even when the test fails."""
    started: list[Running] = []
    yield started
    for sandbox in started:
        if sandbox.process.poll() is None:
            sandbox.process.terminate()  # its own clean stop; SIGKILL only if that hangs
            try:
                sandbox.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sandbox.process.kill()
                sandbox.process.wait(timeout=30)
