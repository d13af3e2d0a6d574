"""What several commands share: finding the config and naming a run."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from bluegreen_hooks import logs
from bluegreen_hooks.config import Config, find_config, load_config


def config_from(args: argparse.Namespace, bundle_root: Path | None = None) -> Config:
    config = load_config(find_config(args.config, bundle_root=bundle_root))
    logs.bind(application=config.application_name)
    return config


def new_deployment_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
