"""The preview load balancer (the seed's "off" cluster): its listeners aimed at the idle color.

It is a Classic ELB whatever the main load balancer is (it forwards to the idle color's
NodePort, which is also its target group's port behind an ALB/NLB). The switch rules are the
Classic router's: each listener deleted and re-created at once on the new port,
keeping protocol, instance protocol, certificate and policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen_hooks.colors import Color
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import ConfigError, InconsistentState
from bluegreen_hooks.routers import classic as elb
from bluegreen_hooks.routers.base import RouterState

if TYPE_CHECKING:
    from mypy_boto3_elb import ElasticLoadBalancingClient


@dataclass(frozen=True)
class PreviewState:
    """Where the preview load balancer forwards: one port (and the color it belongs to)."""

    elb_name: str
    dns_name: str | None
    listeners: tuple[elb.Listener, ...]
    health_target: str | None

    @property
    def ports(self) -> set[int]:
        return {listener.instance_port for listener in self.listeners}

    def color(self, router: RouterState) -> Color | None:
        """The color all listeners forward to, or None when they point elsewhere or disagree."""
        colors = {router.ports.color_of(port) for port in self.ports}
        return colors.pop() if len(colors) == 1 else None

    def to_json(self, router: RouterState) -> dict[str, Any]:
        ports = sorted(self.ports)
        color = self.color(router)
        return {
            "elb": self.elb_name,
            "dns_name": self.dns_name,
            "color": color,
            "port": ports[0] if len(ports) == 1 else None,
            "commit": router.commits.get(color) if color else None,
        }


def read_preview(client: ElasticLoadBalancingClient, config: Config, name: str) -> PreviewState:
    try:
        found = client.describe_load_balancers(LoadBalancerNames=[name])
    except client.exceptions.AccessPointNotFoundException:
        raise ConfigError(
            f"{config.path}: key 'preview-elb-name': load balancer {name!r} not found",
            hint="create the preview load balancer, or fix preview-elb-name",
        ) from None
    description = found["LoadBalancerDescriptions"][0]
    listeners = tuple(elb.listeners_found(dict(description)).values())
    if not listeners:
        raise InconsistentState(
            f"preview load balancer {name} has no listeners",
            hint="create its listeners (e.g. HTTP 80) pointing at either color's port",
        )
    return PreviewState(
        elb_name=name,
        dns_name=description.get("DNSName"),
        listeners=listeners,
        health_target=description.get("HealthCheck", {}).get("Target"),
    )


def point_preview(
    client: ElasticLoadBalancingClient, config: Config, preview: PreviewState, port: int
) -> list[int]:
    """Every listener of the preview load balancer, then its health check, to `port`."""
    moved = elb.repoint(client, preview.elb_name, preview.listeners, port)
    settings = elb.health_check_settings(config.health_check, port)
    if preview.health_target != settings["Target"]:
        client.configure_health_check(LoadBalancerName=preview.elb_name, HealthCheck=settings)  # type: ignore[arg-type]
    return moved
