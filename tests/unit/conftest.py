"""Shared fixtures for the unit tests: a clean environment and a config-file writer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_ENV_READ_BY_THE_PACKAGE = (
    "BLUEGREEN_CONFIG",
    "BLUEGREEN_BUNDLE_ROOT",
    "BUNDLE_COMMIT",
    "BUNDLE_KEY",
    "DEPLOYMENT_ID",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on the environment of whoever runs the suite."""
    for name in _ENV_READ_BY_THE_PACKAGE:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def seed_config() -> dict[str, Any]:
    """The seed's .oopsrc members, as the blog post lists them (a fresh copy per test)."""
    return {
        "elb-name": "triggers-octoblu-com",
        "application-name": "triggers-service",
        "deployment-group": "master",
        "s3-bucket": "octoblu-deploy",
    }


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a mapping as JSON to tmp_path/.oopsrc and return its path."""

    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / ".oopsrc"
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return path

    return write
