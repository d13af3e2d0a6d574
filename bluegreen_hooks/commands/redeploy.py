"""`bluegreen redeploy COMMIT` (`oops deploy`): deploy a published release through CodeDeploy."""

from __future__ import annotations

import argparse

from bluegreen_hooks import clients, codedeploy, logs
from bluegreen_hooks.commands.common import config_from
from bluegreen_hooks.releases import find_release


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    bucket = config.require("s3-bucket", needed_by="redeploy (oops deploy)")
    group = config.require("deployment-group", needed_by="redeploy (oops deploy)")
    release = find_release(clients.s3(config), bucket, config.application_name, args.commit)
    client = clients.codedeploy(config)
    deployment_id = codedeploy.start(
        client, application=config.application_name, group=group, bucket=bucket, release=release
    )
    try:
        print(deployment_id, flush=True)
        logs.bind(deployment_id=deployment_id, commit=release.commit)
        logs.get_logger().info(
            "deployment created", key=f"s3://{bucket}/{release.key}", group=group
        )
        if args.no_wait:
            return 0
        outcome = codedeploy.follow(client, deployment_id)
    except KeyboardInterrupt:
        logs.get_logger().warning(
            "stopped following; the deployment goes on in CodeDeploy",
            stop_it=f"aws deploy stop-deployment --deployment-id {deployment_id}",
        )
        raise
    if not outcome.succeeded:
        raise codedeploy.failure(outcome)
    return 0
