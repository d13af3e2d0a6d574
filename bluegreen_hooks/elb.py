"""Thin boto3 wrapper over the Classic ELB: read router state, switch listeners, health check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen_hooks.colors import COLORS, Color, Ports, other
from bluegreen_hooks.config import Config, HealthCheck
from bluegreen_hooks.errors import ConfigError, DeployFailed, InconsistentState
from bluegreen_hooks.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_elb import ElasticLoadBalancingClient
else:
    ElasticLoadBalancingClient = Any

COMMIT_TAG = "{color}-commit"


@dataclass(frozen=True)
class Listener:
    protocol: str
    port: int
    instance_protocol: str
    instance_port: int
    certificate: str | None
    policies: tuple[str, ...]

    def pointed_at(self, instance_port: int) -> dict[str, Any]:
        """This listener's boto3 description, forwarding to another instance port."""
        spec: dict[str, Any] = {
            "Protocol": self.protocol,
            "LoadBalancerPort": self.port,
            "InstanceProtocol": self.instance_protocol,
            "InstancePort": instance_port,
        }
        if self.certificate:
            spec["SSLCertificateId"] = self.certificate
        return spec


@dataclass(frozen=True)
class Router:
    """What the load balancer says: each color's port, the public listeners, who is live."""

    elb_name: str
    ports: Ports
    listeners: tuple[Listener, ...]
    active: Color
    commits: dict[Color, str | None]
    health_check: dict[str, Any]

    @property
    def health_target(self) -> str | None:
        target = self.health_check.get("Target")
        return str(target) if target is not None else None

    @property
    def idle(self) -> Color:
        return other(self.active)


def make_client(config: Config) -> ElasticLoadBalancingClient:
    from bluegreen_hooks.aws_clients import make_client as make_aws_client

    client: ElasticLoadBalancingClient = make_aws_client("elb", config.region)
    return client


def read_router(
    client: ElasticLoadBalancingClient, config: Config, *, repairing: Color | None = None
) -> Router:
    """Read tags and listeners; refuse any state that is not a clean blue/green pair.

    `repairing` names the color a repair will point every listener at; listeners that
    disagree or point elsewhere are then accepted, and that color counts as the idle one.
    """
    description = _describe(client, config)
    tags = _tags(client, config.elb_name)
    ports = _ports(config.elb_name, tags)
    listeners = _public_listeners(description, config)
    active = other(repairing) if repairing else _active_color(config.elb_name, ports, listeners)
    return Router(
        elb_name=config.elb_name,
        ports=ports,
        listeners=listeners,
        active=active,
        commits={c: tags.get(COMMIT_TAG.format(color=c)) for c in COLORS},
        health_check=dict(description.get("HealthCheck") or {}),
    )


def _describe(client: ElasticLoadBalancingClient, config: Config) -> dict[str, Any]:
    try:
        found = client.describe_load_balancers(LoadBalancerNames=[config.elb_name])
    except client.exceptions.AccessPointNotFoundException as exc:
        raise ConfigError(
            f"{config.path}: key 'elb-name': load balancer {config.elb_name!r} not found",
            hint="check elb-name and the region (config 'region' or AWS_DEFAULT_REGION)",
        ) from exc
    return dict(found["LoadBalancerDescriptions"][0])


def _tags(client: ElasticLoadBalancingClient, elb_name: str) -> dict[str, str]:
    found = client.describe_tags(LoadBalancerNames=[elb_name])["TagDescriptions"]
    return {t["Key"]: t.get("Value", "") for d in found for t in d.get("Tags", [])}


def _ports(elb_name: str, tags: dict[str, str]) -> Ports:
    fix = (
        f"tag the load balancer with each color's NodePort: aws elb add-tags "
        f"--load-balancer-names {elb_name} --tags Key=blue,Value=30001 Key=green,Value=30002"
    )
    numbers: dict[str, int] = {}
    for color in COLORS:
        if color not in tags:
            raise InconsistentState(f"load balancer {elb_name} has no '{color}' tag", hint=fix)
        value = tags[color].strip()
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise InconsistentState(
                f"load balancer {elb_name}: tag '{color}' is {tags[color]!r}, not a port number",
                hint=fix,
            )
        numbers[color] = int(value)
    if numbers["blue"] == numbers["green"]:
        raise InconsistentState(
            f"load balancer {elb_name}: tags 'blue' and 'green' are both {numbers['blue']}",
            hint="give each color its own NodePort; " + fix,
        )
    return Ports(blue=numbers["blue"], green=numbers["green"])


def _public_listeners(description: dict[str, Any], config: Config) -> tuple[Listener, ...]:
    listeners = {
        d["Listener"]["LoadBalancerPort"]: Listener(
            protocol=d["Listener"]["Protocol"],
            port=d["Listener"]["LoadBalancerPort"],
            instance_protocol=d["Listener"].get("InstanceProtocol", d["Listener"]["Protocol"]),
            instance_port=d["Listener"]["InstancePort"],
            certificate=d["Listener"].get("SSLCertificateId") or None,
            policies=tuple(d.get("PolicyNames", [])),
        )
        for d in description.get("ListenerDescriptions", [])
    }
    if not listeners:
        raise InconsistentState(
            f"load balancer {config.elb_name} has no listeners",
            hint="create the public listeners (e.g. HTTP 80, HTTPS 443) pointing at the blue port",
        )
    wanted = config.listeners or tuple(sorted(listeners))
    missing = [p for p in wanted if p not in listeners]
    if missing:
        raise ConfigError(
            f"{config.path}: key 'listeners': port {missing[0]} is not a listener of "
            f"{config.elb_name} (it has {', '.join(map(str, sorted(listeners)))})",
            hint="list only ports the load balancer listens on, or drop 'listeners'",
        )
    return tuple(listeners[p] for p in wanted)


def _active_color(elb_name: str, ports: Ports, listeners: tuple[Listener, ...]) -> Color:
    colors: dict[int, Color] = {}
    for listener in listeners:
        color = ports.color_of(listener.instance_port)
        if color is None:
            raise InconsistentState(
                f"load balancer {elb_name}: listener {listener.port} forwards to port "
                f"{listener.instance_port}, which is neither blue ({ports.blue}) "
                f"nor green ({ports.green})",
                hint="point the listener at one color's port with `bluegreen repair --color C`",
            )
        colors[listener.port] = color
    if len(set(colors.values())) > 1:
        where = ", ".join(f"{port} -> {color}" for port, color in colors.items())
        raise InconsistentState(
            f"load balancer {elb_name}: listeners disagree ({where})",
            hint="point every listener at one color with `bluegreen repair --color C`",
        )
    return next(iter(colors.values()))


def switch_listeners(
    client: ElasticLoadBalancingClient, elb_name: str, listeners: Iterable[Listener], port: int
) -> list[int]:
    """Point each listener at `port`, one at a time: delete, then re-create at once, as it was.

    If one cannot be re-created, every listener already moved goes back to where it was, so
    the load balancer never stays split between two colors.
    """
    log = get_logger()
    moved: list[Listener] = []
    for listener in listeners:
        if listener.instance_port == port:
            continue
        try:
            _repoint(client, elb_name, listener, port)
        except Exception as exc:
            restored = _put_back(client, elb_name, [listener, *moved])
            raise DeployFailed(
                f"could not point listener {listener.port} at port {port}: {exc}",
                hint="every listener is back where it was; retry"
                if restored
                else "some listeners could not be put back: check `bluegreen status`, "
                "then `bluegreen repair --color C`",
            ) from exc
        log.info("listener switched", listener=listener.port, instance_port=port)
        moved.append(listener)
    return [listener.port for listener in moved]


def _repoint(
    client: ElasticLoadBalancingClient, elb_name: str, listener: Listener, port: int
) -> None:
    client.delete_load_balancer_listeners(
        LoadBalancerName=elb_name, LoadBalancerPorts=[listener.port]
    )
    client.create_load_balancer_listeners(
        LoadBalancerName=elb_name,
        Listeners=[listener.pointed_at(port)],  # type: ignore[list-item]
    )
    if listener.policies:
        client.set_load_balancer_policies_of_listener(
            LoadBalancerName=elb_name,
            LoadBalancerPort=listener.port,
            PolicyNames=list(listener.policies),
        )


def _put_back(
    client: ElasticLoadBalancingClient, elb_name: str, listeners: Iterable[Listener]
) -> bool:
    """Re-create each listener as it was; returns whether all of them made it."""
    restored = True
    for listener in listeners:
        try:
            _repoint(client, elb_name, listener, listener.instance_port)
        except Exception as exc:
            get_logger().error(
                "could not put listener back", listener=listener.port, error=str(exc)
            )
            restored = False
    return restored


def point_at(
    client: ElasticLoadBalancingClient, router: Router, check: HealthCheck, port: int
) -> list[int]:
    """Every public listener, then the health check, to `port`; returns the listeners moved."""
    moved = switch_listeners(client, router.elb_name, router.listeners, port)
    configure_health_check(client, router, check, port)
    return moved


def configure_health_check(
    client: ElasticLoadBalancingClient, router: Router, check: HealthCheck, port: int
) -> bool:
    """Aim the health check at `port` with the configured settings; returns whether it changed."""
    wanted = {
        "Target": check.target(port),
        "Interval": check.interval,
        "Timeout": check.timeout,
        "UnhealthyThreshold": check.unhealthy_threshold,
        "HealthyThreshold": check.healthy_threshold,
    }
    if all(router.health_check.get(key) == value for key, value in wanted.items()):
        return False
    client.configure_health_check(
        LoadBalancerName=router.elb_name,
        HealthCheck=wanted,  # type: ignore[arg-type]
    )
    get_logger().info("health check configured", target=wanted["Target"])
    return True


def record_commit(
    client: ElasticLoadBalancingClient, router: Router, color: Color, commit: str
) -> None:
    """Remember on the load balancer which commit runs on `color` (read by `status`)."""
    if router.commits.get(color) == commit:
        return
    client.add_tags(
        LoadBalancerNames=[router.elb_name],
        Tags=[{"Key": COMMIT_TAG.format(color=color), "Value": commit}],
    )
