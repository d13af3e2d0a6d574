"""`bluegreen render`: print the manifests a deploy would apply, and what it would adopt;
touches nothing."""

from __future__ import annotations

import argparse
import sys

from bluegreen_hooks.colors import Color, parse_color
from bluegreen_hooks.commands.common import config_from
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import BluegreenError
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.plan import check_commit, render
from bluegreen_hooks.routers import make_router
from bluegreen_hooks.routers.base import RouterState
from bluegreen_hooks.template_check import check_templates
from bluegreen_hooks.templates import Manifest, to_yaml


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    check_templates(config, args.commit, "render")  # before reading the load balancer
    router = make_router(config).read()
    color = parse_color(args.color) if args.color else router.idle
    commit = check_commit(args.commit)
    services, workloads = render(config, router.ports, color, commit, "render")
    notes = _adoption_notes(config, router, color, commit, services + workloads)
    sys.stdout.write(notes + to_yaml([*services, *workloads]))
    return 0


def _adoption_notes(
    config: Config, router: RouterState, color: Color, commit: str, manifests: tuple[Manifest, ...]
) -> str:
    """YAML comments naming what a deploy to the idle color would adopt (see adoption.py)."""
    if color != router.idle:
        return ""
    from bluegreen_hooks.kube import Cluster, connect

    live = router.active
    live_services, live_workloads = render(config, router.ports, live, commit, "render")
    try:
        adoptions = Cluster(connect(), config.namespace).adoptions(
            idle=(color, manifests),
            live=(live, live_services + live_workloads),
            live_port=router.ports.of(live),
        )
    except BluegreenError as exc:
        get_logger().warning(f"what a deploy would adopt is unknown: {exc}")
        return ""
    return "".join(f"# a deploy adopts: {a.describe()}\n" for a in adoptions)
