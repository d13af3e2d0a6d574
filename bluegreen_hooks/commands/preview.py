"""`bluegreen preview` (`oops preview`, `oops off`): the preview load balancer to the idle color."""

from __future__ import annotations

import argparse

from bluegreen_hooks import logs, preview
from bluegreen_hooks.commands.common import config_from
from bluegreen_hooks.routers import make_router
from bluegreen_hooks.routers.classic import make_client


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    name = config.require("preview-elb-name", needed_by="preview (oops preview)")
    router = make_router(config).read()
    client = make_client(config)  # the preview load balancer is a Classic ELB
    state = preview.read_preview(client, config, name)
    color = router.idle
    port = router.ports.of(color)
    moved = preview.point_preview(client, config, state, port)
    commit = router.commits.get(color) or "unknown"
    logs.get_logger().info(
        "preview switched" if moved else "preview already on the idle color",
        preview=name,
        color=color,
        port=port,
        listeners=moved,
    )
    where = f" at {state.dns_name}" if state.dns_name else ""
    print(f"preview {name}{where} -> {color} (port {port}), commit {commit}")
    return 0
