"""`bluegreen status`: which color is live, on which port, with which commit. Reads the ELB only."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bluegreen_hooks import elb
from bluegreen_hooks.colors import Color
from bluegreen_hooks.commands.common import config_from


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    router = elb.read_router(elb.make_client(config), config)
    report = status_report(config.application_name, router)
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"{config.application_name} (load balancer {router.elb_name})")
        for role in ("active", "idle"):
            entry = report[role]
            commit = entry["commit"] or "unknown"
            print(f"  {role:<6}  {entry['color']:<5}  port {entry['port']}  commit {commit}")
    return 0


def status_report(application: str, router: elb.Router) -> dict[str, Any]:
    def entry(color: Color) -> dict[str, Any]:
        return {"color": color, "port": router.ports.of(color), "commit": router.commits[color]}

    return {"application": application, "active": entry(router.active), "idle": entry(router.idle)}
