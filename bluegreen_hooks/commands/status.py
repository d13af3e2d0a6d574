"""`bluegreen status`: which color is live, on which port, with which commit (and the split
while traffic is shifted in steps). Reads the load balancer only."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bluegreen_hooks.colors import Color
from bluegreen_hooks.commands.common import config_from
from bluegreen_hooks.config import Config
from bluegreen_hooks.routers import make_router
from bluegreen_hooks.routers.base import RouterState


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    router = make_router(config).read()
    report = status_report(config.application_name, router)
    preview_report = _preview(config, router)
    if preview_report is not None:
        report["preview"] = preview_report
    if args.output == "oops":
        print(json.dumps(oops_report(report), indent=2))
    elif args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{config.application_name} (load balancer {router.elb_name})")
        for role in ("active", "idle"):
            entry = report[role]
            commit = entry["commit"] or "unknown"
            print(f"  {role:<6}  {entry['color']:<5}  port {entry['port']}  commit {commit}")
        if "weights" in report:
            split = ", ".join(f"{c} {w}%" for c, w in report["weights"].items())
            print(f"  shifting traffic: {split}")
        if preview_report is not None:
            print(_preview_line(preview_report))
    return 0


def status_report(application: str, router: RouterState) -> dict[str, Any]:
    def entry(color: Color) -> dict[str, Any]:
        return {"color": color, "port": router.ports.of(color), "commit": router.commits[color]}

    report: dict[str, Any] = {
        "application": application,
        "active": entry(router.active),
        "idle": entry(router.idle),
    }
    if router.weights is not None:
        report["weights"] = dict(router.weights)
    return report


def oops_report(report: dict[str, Any]) -> dict[str, Any]:
    """The seed's `oops` shape: the idle color is the "off" one."""
    shaped = {"application": report["application"], "active": report["active"]}
    shaped["off"] = report["idle"]
    if "preview" in report:
        shaped["preview"] = report["preview"]
    return shaped


def _preview(config: Config, router: RouterState) -> dict[str, Any] | None:
    """Where the preview load balancer (a Classic ELB) points, when the config names one."""
    if not config.preview_elb_name:
        return None
    from bluegreen_hooks import preview
    from bluegreen_hooks.errors import BluegreenError
    from bluegreen_hooks.routers.classic import make_client

    try:
        state = preview.read_preview(make_client(config), config, config.preview_elb_name)
    except BluegreenError as exc:
        return {"elb": config.preview_elb_name, "color": None, "port": None, "error": exc.message}
    return state.to_json(router)


def _preview_line(entry: dict[str, Any]) -> str:
    where = f"(load balancer {entry['elb']})"
    if entry.get("error"):
        return f"  preview unknown: {entry['error']}"
    if entry["color"] is None:
        return f"  preview on neither color {where}"
    return f"  preview {entry['color']:<5}  port {entry['port']}  {where}"
