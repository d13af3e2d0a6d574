"""`bluegreen hook EVENT`: one CodeDeploy lifecycle hook, as the shims in hooks/ run it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bluegreen_hooks import lifecycle, logs
from bluegreen_hooks.commands.common import config_from, new_deployment_id
from bluegreen_hooks.env_errors import check_deployment_id


def run(args: argparse.Namespace) -> int:
    bundle_root = find_bundle_root(args.bundle_root)
    config = config_from(args, bundle_root)
    deployment_id = find_deployment_id(bundle_root)
    logs.bind(deployment_id=deployment_id, event=args.event)
    hook_run = lifecycle.Run(
        config=config, deployment_id=deployment_id, bundle_root=bundle_root, commit=args.commit
    )
    if args.event == "BeforeInstall":
        lifecycle.before_install(hook_run)
    elif args.event == "ApplicationStart":
        lifecycle.application_start(hook_run)
    else:
        lifecycle.validate_service(hook_run)
    logs.get_logger().info("hook done")
    return 0


def find_bundle_root(explicit: str | None) -> Path | None:
    chosen = explicit or os.environ.get("BLUEGREEN_BUNDLE_ROOT")
    if chosen:
        return Path(chosen).resolve()
    cwd = Path.cwd()
    return cwd if (cwd / "appspec.yml").is_file() else None


def find_deployment_id(bundle_root: Path | None) -> str:
    """CodeDeploy's DEPLOYMENT_ID; by hand, the one plan saved beside the bundle."""
    if os.environ.get("DEPLOYMENT_ID"):
        return check_deployment_id(os.environ["DEPLOYMENT_ID"], "DEPLOYMENT_ID")
    if bundle_root is not None:
        plans = sorted(bundle_root.parent.glob(f"{lifecycle.PLAN_PREFIX}*.json"))
        if len(plans) == 1:
            return plans[0].stem.removeprefix(lifecycle.PLAN_PREFIX)
    return new_deployment_id("manual")
