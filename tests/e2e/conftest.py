"""End-to-end fixtures: one sandbox per test worker, one fresh application per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.world import App, make_app


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
