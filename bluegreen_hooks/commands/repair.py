"""`bluegreen repair`: point every listener (and the health check) at one color's port."""

from __future__ import annotations

import argparse

from bluegreen_hooks import elb, logs
from bluegreen_hooks.colors import parse_color
from bluegreen_hooks.commands.common import config_from


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    color = parse_color(args.color)
    client = elb.make_client(config)
    router = elb.read_router(client, config, repairing=color)
    port = router.ports.of(color)
    logs.bind(step="repair", new_color=color)
    moved = elb.point_at(client, router, config.health_check, port)
    logs.get_logger().info("router repaired", color=color, port=port, listeners=moved)
    return 0
