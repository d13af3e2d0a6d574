"""`bluegreen rollback`: traffic back to the idle color, if all its replicas are Ready."""

from __future__ import annotations

import argparse

from bluegreen_hooks import lifecycle, logs
from bluegreen_hooks.commands.common import config_from, new_deployment_id
from bluegreen_hooks.readiness_probe import ReadinessProbe


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    probe = None if args.force else ReadinessProbe(config.path)
    try:
        deployment_id = new_deployment_id("rollback")
        logs.bind(deployment_id=deployment_id)
        rollback_run = lifecycle.Run(config=config, deployment_id=deployment_id)
        lifecycle.rollback(rollback_run, probe=probe)
    finally:
        if probe is not None:
            probe.cancel()
    return 0
