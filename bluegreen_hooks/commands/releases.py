"""`bluegreen releases` (`oops list`): published bundles, newest first, marking what is live."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bluegreen_hooks import clients, logs
from bluegreen_hooks.colors import Color
from bluegreen_hooks.commands.common import config_from
from bluegreen_hooks.errors import InconsistentState
from bluegreen_hooks.releases import Release, list_releases
from bluegreen_hooks.routers import make_router


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    bucket = config.require("s3-bucket", needed_by="releases (oops list)")
    found = list_releases(clients.s3(config), bucket, config.application_name)
    live = live_commits(config)
    rows = [{**r.to_json(), **_marker(r, live)} for r in found]
    if args.output == "json":
        report = {"application": config.application_name, "bucket": bucket, "releases": rows}
        print(json.dumps(report, indent=2))
        return 0
    where = f"s3://{bucket}/{config.application_name}/"
    if not found:
        print(f"{config.application_name}: no releases in {where}")
        return 0
    print(f"{config.application_name}: {len(found)} release(s) in {where}, newest first")
    for release, row in zip(found, rows, strict=True):
        mark = f"  <- {row['live']} ({row['color']})" if row["live"] else ""
        print(
            f"  {release.modified:%Y-%m-%d %H:%M:%S}  {release.commit[:12]:<12}"
            f"  {_size(release.size):>8}{mark}"
        )
    return 0


def live_commits(config: Any) -> dict[str, tuple[str, Color]]:
    """{"active": (commit, color), "idle": ...} from the load balancer's commit tags."""
    try:
        router = make_router(config).read()
    except InconsistentState as exc:
        logs.get_logger().warning("cannot tell which release is live", reason=exc.message)
        return {}
    live: dict[str, tuple[str, Color]] = {}
    for role, color in (("active", router.active), ("idle", router.idle)):
        commit = router.commits.get(color)
        if commit:
            live[role] = (commit, color)
    return live


def _marker(release: Release, live: dict[str, tuple[str, Color]]) -> dict[str, Any]:
    for role, (commit, color) in live.items():
        if release.commit == commit:
            return {"live": role, "color": color}
    return {"live": None, "color": None}


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB"
