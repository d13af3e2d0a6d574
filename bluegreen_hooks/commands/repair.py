"""`bluegreen repair`: every public listener, as recorded, and the health check on one color.

Without `--color` it asks the cluster which color has every replica Ready (preferring the one
an interrupted switch was moving to), and refuses (exit 4) when it cannot tell. It does not
wait for the deploy lock: it is what a person runs after a deploy died holding it.
"""

from __future__ import annotations

import argparse

from bluegreen_hooks import lifecycle, logs
from bluegreen_hooks.colors import Color, parse_color
from bluegreen_hooks.commands.common import config_from, new_deployment_id
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import BluegreenError
from bluegreen_hooks.readiness import Readiness
from bluegreen_hooks.routers import make_router


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    lb = make_router(config)
    router = lb.read(accept="anything")
    unfinished = router.switch is not None or bool(router.missing)
    clean = None if unfinished else router.agreed_color()
    target: Color
    if args.color:
        target = parse_color(args.color)
    elif clean:
        target = clean
    else:
        target = lifecycle.repair_target(router, _readiness(config))
    logs.bind(step="repair", new_color=target)
    moved = lb.point_at(router, target, by=new_deployment_id("repair"), step="repair")
    logs.get_logger().info(
        "router repaired" if moved or not clean else "nothing to repair",
        color=target,
        port=router.ports.of(target),
        listeners=moved,
    )
    return 0


def _readiness(config: Config) -> dict[Color, Readiness]:
    """How many replicas of each color are Ready."""
    from bluegreen_hooks.kube import Cluster, connect

    try:
        cluster = Cluster(connect(), config.namespace)
        return cluster.readiness_by_color(config.application_name)
    except BluegreenError as exc:
        raise type(exc)(
            f"{exc.message} (repair asks Kubernetes which color is Ready)",
            hint="fix that, or choose the color yourself: `bluegreen repair --color C`",
        ) from exc
