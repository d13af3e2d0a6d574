"""`bluegreen hook EVENT`: one CodeDeploy lifecycle hook, as the shims in hooks/ run it.

It refuses what CodeDeploy would never do (exit 2, nothing touched): running outside an
unpacked bundle, or ValidateService for a deployment BeforeInstall never planned.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bluegreen_hooks import lifecycle, logs
from bluegreen_hooks.commands.common import config_from, new_deployment_id
from bluegreen_hooks.env_errors import check_deployment_id
from bluegreen_hooks.errors import UsageError

APPSPEC = "appspec.yml"
BUNDLE_ROOT_ENV = "BLUEGREEN_BUNDLE_ROOT"


def run(args: argparse.Namespace) -> int:
    bundle_root = find_bundle_root(args.bundle_root)
    deployment_id = find_deployment_id(bundle_root)
    if args.event == "ValidateService":
        require_saved_plan(bundle_root, deployment_id)
    config = config_from(args, bundle_root)
    # not `event`: structlog's message key would hide it in JSON lines
    logs.bind(deployment_id=deployment_id, lifecycle_event=args.event)
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


def find_bundle_root(explicit: str | None) -> Path:
    """--bundle-root, else $BLUEGREEN_BUNDLE_ROOT, else cwd; it must hold appspec.yml."""
    chosen, origin = explicit, "--bundle-root"
    if not chosen and os.environ.get(BUNDLE_ROOT_ENV):
        chosen, origin = os.environ[BUNDLE_ROOT_ENV], BUNDLE_ROOT_ENV
    if chosen:
        root = Path(chosen).resolve()
        if not (root / APPSPEC).is_file():
            raise UsageError(
                f"{origin} names {root}, which has no {APPSPEC}: not an unpacked bundle",
                hint=f"point {origin} at the folder holding {APPSPEC} (the deployment-archive)",
            )
        return root
    cwd = Path.cwd()
    if not (cwd / APPSPEC).is_file():
        raise UsageError(
            f"hooks run from an unpacked CodeDeploy bundle, and {cwd} has no {APPSPEC}",
            hint="cd into the bundle (<deployment-root>/<group-id>/<deployment-id>/"
            "deployment-archive), or pass --bundle-root DIR; to deploy from a checkout, "
            "use `bluegreen deploy --commit SHA`",
        )
    return cwd


def find_deployment_id(bundle_root: Path) -> str:
    """CodeDeploy's DEPLOYMENT_ID; by hand, the one plan saved beside the bundle."""
    if os.environ.get("DEPLOYMENT_ID"):
        return check_deployment_id(os.environ["DEPLOYMENT_ID"], "DEPLOYMENT_ID")
    plans = saved_plans(bundle_root)
    if len(plans) == 1:
        return plans[0]
    return new_deployment_id("manual")


def saved_plans(bundle_root: Path) -> list[str]:
    """Deployment ids with a plan saved beside this bundle."""
    found = sorted(bundle_root.parent.glob(f"{lifecycle.PLAN_PREFIX}*.json"))
    return [path.stem.removeprefix(lifecycle.PLAN_PREFIX) for path in found]


def require_saved_plan(bundle_root: Path, deployment_id: str) -> None:
    """ValidateService checks what BeforeInstall planned; without a plan it would check nothing."""
    path = lifecycle.plan_path(bundle_root, deployment_id)
    if path.is_file():
        return
    others = saved_plans(bundle_root)
    choices = f" (plans saved here: {', '.join(others)})" if others else ""
    raise UsageError(
        f"no plan saved for deployment {deployment_id}: {path} does not exist",
        hint=f"set DEPLOYMENT_ID to a deployment BeforeInstall planned{choices}, "
        "or run `bluegreen hook BeforeInstall` first",
    )
