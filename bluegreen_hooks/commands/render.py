"""`bluegreen render`: print the manifests a deploy would apply; touches nothing."""

from __future__ import annotations

import argparse
import sys

from bluegreen_hooks.colors import parse_color
from bluegreen_hooks.commands.common import config_from
from bluegreen_hooks.plan import check_commit, render
from bluegreen_hooks.routers import make_router
from bluegreen_hooks.template_check import check_templates
from bluegreen_hooks.templates import to_yaml


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    check_templates(config, args.commit, "render")  # before reading the load balancer
    router = make_router(config).read()
    color = parse_color(args.color) if args.color else router.idle
    services, workloads = render(config, router.ports, color, check_commit(args.commit), "render")
    sys.stdout.write(to_yaml([*services, *workloads]))
    return 0
