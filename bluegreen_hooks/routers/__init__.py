"""Routers: what moves traffic between the colors (a Classic ELB, or an ALB/NLB).

`make_router` picks one by the config's `load-balancer-type`; see `base.Router`.
"""

from __future__ import annotations

from bluegreen_hooks.config import Config
from bluegreen_hooks.routers.base import Router


def make_router(config: Config) -> Router:
    """The router for the config's `load-balancer-type` (classic by default)."""
    from bluegreen_hooks.aws_clients import make_client

    if config.load_balancer_type == "classic":
        from bluegreen_hooks.routers.classic import ClassicRouter

        return ClassicRouter(config, make_client("elb", config.region))
    from bluegreen_hooks.routers.elbv2 import Elbv2Router

    return Elbv2Router(config, make_client("elbv2", config.region))
