"""`bluegreen deploy`: every step in one process, for CI and people."""

from __future__ import annotations

import argparse

from bluegreen_hooks import lifecycle, logs
from bluegreen_hooks.commands.common import config_from, new_deployment_id
from bluegreen_hooks.env_errors import check_deployment_id
from bluegreen_hooks.errors import ConfigError
from bluegreen_hooks.template_check import check_templates


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    deployment_id = args.deployment_id
    if deployment_id is None:
        deployment_id = new_deployment_id("cli")
    check_deployment_id(deployment_id, "--deployment-id")
    logs.bind(deployment_id=deployment_id)
    deploy_run = lifecycle.Run(
        config=config,
        deployment_id=deployment_id,
        commit=args.commit,
        steps=args.steps,
        pause=args.pause,
    )
    if args.steps and not deploy_run.lb.can_shift:
        raise ConfigError(
            f"--steps: a load balancer of type {deploy_run.lb.kind} cannot split traffic "
            "between the colors (only an Application Load Balancer can)",
            hint="drop --steps (the switch is then all at once), or use an Application Load "
            "Balancer (config 'load-balancer-type': 'application')",
        )
    check_templates(config, args.commit, deployment_id)  # before any AWS or Kubernetes call
    router = deploy_run.router(accept="unfinished")
    if router.switch is not None:
        router = lifecycle.settle(deploy_run, router)
    if not args.redeploy and router.commits.get(router.active) == args.commit:
        ready = deploy_run.cluster.readiness(config.application_name, router.active)
        if ready.complete:
            logs.get_logger().info(
                "commit already live; nothing to do (use --redeploy to deploy it again)",
                color=router.active,
                commit=args.commit,
            )
            return 0
    plan = lifecycle.prepare(deploy_run, router)
    lifecycle.application_start(deploy_run, plan)
    lifecycle.validate_service(deploy_run, plan)
    logs.get_logger().info("deployed", color=plan.color, port=plan.port, commit=plan.commit)
    return 0
