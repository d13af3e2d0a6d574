"""`bluegreen rollback`: traffic back to the idle color, if it is healthy.

Behind a Classic ELB "healthy" means all its replicas are Ready and no deploy holds the lock
(Kubernetes' word, asked in a child process started first); behind an ALB/NLB it is the
target health of the color's target group (AWS's word), and no child is started.
"""

from __future__ import annotations

import argparse

from bluegreen_hooks.env_errors import require_aws_region
from bluegreen_hooks.readiness_probe import ReadinessProbe


def run(args: argparse.Namespace) -> int:
    # Not without a region: then nothing at all may be asked.
    require_aws_region(args.config)
    from bluegreen_hooks.commands.common import config_from, new_deployment_id

    config = config_from(args)  # a few ms; says whether Kubernetes is asked at all
    judged_by_aws = config.load_balancer_type != "classic"
    # The readiness check is the slowest part of an "oops": start it before anything else.
    # The child finds the config exactly as this process does (same arguments, cwd, env).
    probe = None if args.force or judged_by_aws else ReadinessProbe(args.config)
    try:
        from bluegreen_hooks import lifecycle, logs

        deployment_id = new_deployment_id("rollback")
        logs.bind(deployment_id=deployment_id)
        rollback_run = lifecycle.Run(config=config, deployment_id=deployment_id)
        lifecycle.rollback(rollback_run, probe=probe, check_health=judged_by_aws and not args.force)
    finally:
        if probe is not None:
            probe.cancel()
    return 0
