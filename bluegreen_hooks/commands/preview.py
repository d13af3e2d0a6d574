"""`bluegreen preview` (`oops preview`, `oops off`): the preview load balancer to the idle color."""

from __future__ import annotations

import argparse

from bluegreen_hooks import elb, logs, preview
from bluegreen_hooks.commands.common import config_from


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    name = config.require("preview-elb-name", needed_by="preview (oops preview)")
    client = elb.make_client(config)
    router = elb.read_router(client, config)
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
