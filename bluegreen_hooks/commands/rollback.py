"""`bluegreen rollback`: traffic back to the idle color, if all its replicas are Ready."""

from __future__ import annotations

import argparse

from bluegreen_hooks import lifecycle, logs
from bluegreen_hooks.commands.common import config_from, new_deployment_id


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    deployment_id = new_deployment_id("rollback")
    logs.bind(deployment_id=deployment_id)
    lifecycle.rollback(lifecycle.Run(config=config, deployment_id=deployment_id), force=args.force)
    return 0
