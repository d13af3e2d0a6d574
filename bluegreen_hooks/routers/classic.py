"""The Classic ELB router: read its state, switch listeners (delete + re-create), health check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bluegreen_hooks import signals, switch_record
from bluegreen_hooks.colors import COLORS, Color, Ports, other
from bluegreen_hooks.config import Config, HealthCheck
from bluegreen_hooks.errors import ConfigError, DeployFailed, InconsistentState
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.routers.base import Accept, RouterState, Weights
from bluegreen_hooks.switch_record import ListenerSpec, Record, Switch

if TYPE_CHECKING:
    from mypy_boto3_elb import ElasticLoadBalancingClient
else:
    ElasticLoadBalancingClient = Any

COMMIT_TAG = "{color}-commit"

FINISH_HINT = (
    "finish it: rerun the interrupted step (the same hook, `bluegreen deploy` or "
    "`bluegreen rollback`), or run `bluegreen repair`, which re-creates missing listeners with "
    "their certificates and policies and points every one at the color that is fully Ready"
)


@dataclass(frozen=True)
class Listener:
    """A listener as found: its spec and the instance port it forwards to."""

    spec: ListenerSpec
    instance_port: int

    @property
    def port(self) -> int:
        return self.spec.port

    def pointed_at(self, instance_port: int) -> dict[str, Any]:
        """This listener's boto3 description, forwarding to another instance port."""
        spec: dict[str, Any] = {
            "Protocol": self.spec.protocol,
            "LoadBalancerPort": self.spec.port,
            "InstanceProtocol": self.spec.instance_protocol,
            "InstancePort": instance_port,
        }
        if self.spec.certificate:
            spec["SSLCertificateId"] = self.spec.certificate
        return spec


@dataclass(frozen=True)
class ClassicState:
    """What the load balancer says: each color's port, the public listeners, who is live.

    `listeners` are the public listeners as they must exist (from the switch record while a
    switch is unfinished or for a missing listener, else as found); `found` are those that
    exist, by port. With an unfinished switch, `active` is the color it was moving away from.
    """

    elb_name: str
    ports: Ports
    listeners: tuple[ListenerSpec, ...]
    found: dict[int, Listener]
    active: Color
    commits: dict[Color, str | None]
    health_check: dict[str, Any]
    record: Record
    other_tags: int  # tags that are not the switch record (a Classic ELB holds 50 in all)

    @property
    def health_target(self) -> str | None:
        target = self.health_check.get("Target")
        return str(target) if target is not None else None

    @property
    def switch(self) -> Switch | None:
        return self.record.switch

    @property
    def missing(self) -> list[ListenerSpec]:
        return [spec for spec in self.listeners if spec.port not in self.found]

    def color_of(self, port: int) -> Color | None:
        """The color a public listener forwards to (None if missing or on neither port)."""
        listener = self.found.get(port)
        return self.ports.color_of(listener.instance_port) if listener else None

    def agreed_color(self) -> Color | None:
        """The color every public listener forwards to, if they all exist and agree."""
        colors = {self.color_of(spec.port) for spec in self.listeners}
        return colors.pop() if len(colors) == 1 else None

    def agreed_present_color(self) -> Color | None:
        """The color every existing public listener forwards to, if they agree."""
        colors = {self.color_of(port) for port in self.found}
        return colors.pop() if len(colors) == 1 else None

    def state(self, moved: tuple[int, ...] = (), target: Color | None = None) -> str:
        """Where each public listener and the health check point, e.g. for an exit-4 message;
        `moved` listeners are described as already on `target`."""
        parts = []
        for spec in self.listeners:
            if target is not None and spec.port in moved:
                parts.append(f"{spec.port} on {target}")
                continue
            found = self.found.get(spec.port)
            if found is None:
                parts.append(f"{spec.port} missing")
                continue
            color = self.ports.color_of(found.instance_port)
            where = f"on {color}" if color else f"on port {found.instance_port}"
            lacking = _lacking(found.spec, spec)
            parts.append(f"{spec.port} {where}" + (f" without its {lacking}" if lacking else ""))
        return f"listeners {', '.join(parts)}; health check {self._health_state()}"

    def _health_state(self) -> str:
        target = self.health_target or ""
        for color in COLORS:
            if target.startswith(f"HTTP:{self.ports.of(color)}/"):
                return f"on {color}"
        return f"at {target or 'nothing'}"

    @property
    def idle(self) -> Color:
        return other(self.active)

    @property
    def weights(self) -> Weights | None:
        return None  # a Classic listener forwards to one port


@dataclass(frozen=True)
class ClassicRouter:
    """The Classic ELB: each listener deleted and re-created on the other color's NodePort."""

    config: Config
    client: ElasticLoadBalancingClient
    kind: str = "classic"
    can_shift: bool = False
    judges_health: bool = False  # one health check for both colors: Kubernetes judges

    def read(self, *, accept: Accept = "consistent") -> ClassicState:
        return read_router(self.client, self.config, accept=accept)

    def point_at(self, state: RouterState, target: Color, *, by: str, step: str) -> list[int]:
        return point_at(
            self.client, _classic(state), self.config.health_check, target, by=by, step=step
        )

    def shift(
        self, state: RouterState, target: Color, percent: int, *, by: str, step: str
    ) -> list[int]:
        raise ConfigError(
            "a Classic ELB cannot split traffic between the colors",
            hint="drop --steps, or use an Application Load Balancer (load-balancer-type)",
        )

    def record_commit(self, state: RouterState, color: Color, commit: str) -> None:
        record_commit(self.client, _classic(state), color, commit)

    def health_problem(self, state: RouterState, color: Color) -> str | None:
        wanted = self.config.health_check.target(state.ports.of(color))
        found = _classic(state).health_target
        return None if found == wanted else f"health check is {found}, expected {wanted}"

    def wait_healthy(self, state: RouterState, color: Color, timeout: float) -> None:
        """Readiness is Kubernetes' word here (every replica Ready), as it always was."""


def _classic(state: RouterState) -> ClassicState:
    assert isinstance(state, ClassicState), state
    return state


def make_client(config: Config) -> ElasticLoadBalancingClient:
    from bluegreen_hooks.aws_clients import make_client as make_aws_client

    client: ElasticLoadBalancingClient = make_aws_client("elb", config.region)
    return client


def read_router(
    client: ElasticLoadBalancingClient, config: Config, *, accept: Accept = "consistent"
) -> ClassicState:
    """Read tags and listeners; refuse any state that is not a clean blue/green pair.

    `accept="unfinished"` lets an unfinished switch through (for the steps that finish it);
    `accept="anything"` any state at all (for `repair`).
    """
    description = _describe(client, config)
    tags = _tags(client, config.elb_name)
    ports = _ports(config.elb_name, tags)
    record = switch_record.read(config.elb_name, tags)
    found = listeners_found(description)
    public = _public_ports(config, found, record)
    listeners = tuple(
        record.listeners.get(port) or found[port].spec
        if record.switch or port not in found
        else found[port].spec
        for port in public
    )
    router = ClassicState(
        elb_name=config.elb_name,
        ports=ports,
        listeners=listeners,
        found={port: found[port] for port in public if port in found},
        active="blue",
        commits={c: tags.get(COMMIT_TAG.format(color=c)) for c in COLORS},
        health_check=dict(description.get("HealthCheck") or {}),
        record=record,
        other_tags=len(tags) - len(record.tags),
    )
    return replace(router, active=_active_color(router, accept))


def _describe(client: ElasticLoadBalancingClient, config: Config) -> dict[str, Any]:
    try:
        found = client.describe_load_balancers(LoadBalancerNames=[config.elb_name])
    except client.exceptions.AccessPointNotFoundException as exc:
        from bluegreen_hooks.routers.naming import not_found

        raise not_found(config, "classic") from exc
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


def listeners_found(description: dict[str, Any]) -> dict[int, Listener]:
    """A load balancer's listeners, by port, from its description."""
    found = {}
    for d in description.get("ListenerDescriptions", []):
        listener = d["Listener"]
        spec = ListenerSpec(
            protocol=listener["Protocol"].upper(),
            port=listener["LoadBalancerPort"],
            instance_protocol=listener.get("InstanceProtocol", listener["Protocol"]).upper(),
            certificate=listener.get("SSLCertificateId") or None,
            policies=tuple(d.get("PolicyNames", [])),
        )
        found[spec.port] = Listener(spec=spec, instance_port=listener["InstancePort"])
    return found


def _public_ports(config: Config, found: dict[int, Listener], record: Record) -> tuple[int, ...]:
    """The configured ports, else every listener found or recorded."""
    known = set(found) | set(record.listeners)
    if not known:
        raise InconsistentState(
            f"load balancer {config.elb_name} has no listeners",
            hint="create the public listeners (e.g. HTTP 80, HTTPS 443) pointing at the blue port",
        )
    wanted = config.listeners or tuple(sorted(known))
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise ConfigError(
            f"{config.path}: key 'listeners': port {unknown[0]} is not a listener of "
            f"{config.elb_name} (it has {', '.join(map(str, sorted(found)))})",
            hint="list only ports the load balancer listens on, or drop 'listeners'",
        )
    return tuple(wanted)


def _active_color(router: ClassicState, accept: Accept) -> Color:
    """The live color; raises InconsistentState for any state `accept` does not let through."""
    elb_name = router.elb_name
    switch = router.switch
    if accept == "anything":
        return other(switch.target) if switch else router.agreed_color() or "blue"
    for listener in router.found.values():
        if router.ports.color_of(listener.instance_port) is None:
            raise InconsistentState(
                f"load balancer {elb_name}: listener {listener.port} forwards to port "
                f"{listener.instance_port}, which is neither blue ({router.ports.blue}) "
                f"nor green ({router.ports.green})",
                hint="point the listener at one color's port with `bluegreen repair --color C`",
            )
    if switch is not None:
        if accept != "unfinished":
            raise InconsistentState(
                f"load balancer {elb_name}: a switch to {switch.target} "
                f"({switch.step} {switch.by}) did not finish: {router.state()}",
                hint=FINISH_HINT,
            )
        return other(switch.target)
    if router.missing:
        spec = router.missing[0]
        key = switch_record.listener_key(spec.port)
        raise InconsistentState(
            f"load balancer {elb_name}: listener {spec.describe()} is missing "
            f"(recorded in tag {key}): {router.state()}",
            hint="`bluegreen repair` re-creates it as recorded, on the live color; if it was "
            f"removed on purpose, forget it: aws elb remove-tags --load-balancer-names "
            f"{elb_name} --tags Key={key}",
        )
    color = router.agreed_color()
    if color is None:
        raise InconsistentState(
            f"load balancer {elb_name}: listeners disagree ({router.state()})",
            hint="point every listener at one color with `bluegreen repair` (it picks the "
            "color that is fully Ready) or `bluegreen repair --color C`",
        )
    return color


# --- the switch ----------------------------------------------------------------------------


def point_at(
    client: ElasticLoadBalancingClient,
    router: ClassicState,
    check: HealthCheck,
    target: Color,
    *,
    by: str,
    step: str,
) -> list[int]:
    """Every public listener, then the health check, to `target`; returns the listeners moved.

    Before the first listener is touched the switch is recorded on the load balancer (tags
    `bluegreen-switch`, `bluegreen-listener-<port>`), and the record is cleared once the
    health check is done, so an interrupted switch is always noticed and can be finished.
    A signal stops the switch only between two listeners. A listener that cannot be moved
    sends every listener already moved back to where it was.
    """
    port = router.ports.of(target)
    pending = [s for s in router.listeners if router.found.get(s.port) != Listener(s, port)]
    if not pending and router.switch is None:
        configure_health_check(client, router, check, port)
        return []
    written = (
        _write_record(client, router, Switch(target=target, by=by, step=step))
        if pending
        else switch_record.tags_for(router.listeners)  # only the record is left to clear
    )
    moved: list[int] = []

    def situation() -> str:
        return router.state(tuple(moved), target)

    with signals.deferred():
        for spec in pending:
            signals.stop_here(situation, FINISH_HINT)
            try:
                _move(client, router.elb_name, router.found.get(spec.port), spec, port)
            except Exception as exc:
                restored = _put_back(client, router, [spec.port, *moved], written)
                raise DeployFailed(
                    f"could not point listener {spec.port} at {target} (port {port}): {exc}",
                    hint="every listener is back where it was; retry"
                    if restored
                    else f"some listeners are not where they were: {FINISH_HINT}",
                ) from exc
            get_logger().info("listener switched", listener=spec.port, instance_port=port)
            moved.append(spec.port)
        signals.stop_here(situation, FINISH_HINT)
        configure_health_check(client, router, check, port)
        _clear_record(client, router, written)
    signals.stop_here(lambda: f"the switch to {target} is complete")
    return moved


def repoint(
    client: ElasticLoadBalancingClient, elb_name: str, listeners: Iterable[Listener], port: int
) -> list[int]:
    """Point listeners no switch record covers (the preview load balancer's) at `port`.

    One at a time, deleted and re-created at once as they were; a signal stops only between
    two listeners, and a listener that cannot be moved sends those already moved back.
    """
    moved: list[Listener] = []
    with signals.deferred():
        for listener in listeners:
            if listener.instance_port == port:
                continue
            signals.stop_here(lambda: f"{len(moved)} listeners of {elb_name} moved to {port}")
            try:
                _move(client, elb_name, listener, listener.spec, port)
            except Exception as exc:
                now = _listeners_now(client, elb_name)
                stranded = [
                    back.port
                    for back in [listener, *moved]
                    if not _restore(client, elb_name, back, back.spec, now)
                ]
                raise DeployFailed(
                    f"could not point listener {listener.port} of {elb_name} at port {port}: {exc}",
                    hint=f"listeners {', '.join(map(str, stranded))} could not be put back: "
                    "re-create them as they were, then retry"
                    if stranded
                    else "every listener is back where it was; retry",
                ) from exc
            moved.append(listener)
    return [listener.port for listener in moved]


def _write_record(
    client: ElasticLoadBalancingClient, router: ClassicState, switch: Switch
) -> dict[str, str]:
    """Record the listeners and the switch (one AddTags call, skipped if already so)."""
    if router.switch is not None and router.switch.target == switch.target:
        switch = router.switch  # finishing it: keep who started it, in which step
    wanted = switch_record.tags_for(router.listeners, switch)
    changed = {k: v for k, v in wanted.items() if router.record.tags.get(k) != v}
    if not changed:
        return wanted
    if router.other_tags + len(set(wanted) | set(router.record.tags)) > switch_record.MAX_TAGS:
        raise DeployFailed(
            f"load balancer {router.elb_name} has no room for the switch record "
            f"({len(wanted)} tags; a Classic ELB holds {switch_record.MAX_TAGS})",
            hint="remove tags the load balancer no longer needs; nothing was switched",
        )
    try:
        client.add_tags(
            LoadBalancerNames=[router.elb_name],
            Tags=[{"Key": k, "Value": v} for k, v in changed.items()],
        )
    except Exception as exc:
        raise DeployFailed(
            f"could not record the switch on load balancer {router.elb_name}, so nothing was "
            f"switched: {exc}",
            hint="the switch needs elasticloadbalancing:AddTags and RemoveTags (see "
            "docs/iam-policy.json) and room for its tags; then retry",
        ) from exc
    return wanted


def _clear_record(
    client: ElasticLoadBalancingClient, router: ClassicState, written: dict[str, str]
) -> None:
    """The switch is done: remove its tag (the listener tags stay, to notice a lost listener)."""
    keys = switch_record.leftovers(router.record, written)
    if not keys:
        return
    try:
        client.remove_tags(LoadBalancerNames=[router.elb_name], Tags=[{"Key": k} for k in keys])
    except Exception as exc:
        raise DeployFailed(
            f"every listener and the health check were switched, but the switch record on "
            f"{router.elb_name} could not be cleared: {exc}",
            hint="the switch needs elasticloadbalancing:RemoveTags (see docs/iam-policy.json); "
            "then `bluegreen repair` clears it",
        ) from exc


def _move(
    client: ElasticLoadBalancingClient,
    elb_name: str,
    found: Listener | None,
    spec: ListenerSpec,
    port: int,
) -> None:
    """Make the listener `spec` forward to `port`: delete, then re-create at once, as recorded."""
    if found is not None and found.instance_port == port and _same_but_policies(found.spec, spec):
        _set_policies(client, elb_name, spec)  # a crash came between its create and its policies
        return
    if found is not None:
        client.delete_load_balancer_listeners(
            LoadBalancerName=elb_name, LoadBalancerPorts=[spec.port]
        )
    client.create_load_balancer_listeners(
        LoadBalancerName=elb_name,
        Listeners=[Listener(spec, port).pointed_at(port)],  # type: ignore[list-item]
    )
    if spec.policies:
        _set_policies(client, elb_name, spec)


def _set_policies(client: ElasticLoadBalancingClient, elb_name: str, spec: ListenerSpec) -> None:
    client.set_load_balancer_policies_of_listener(
        LoadBalancerName=elb_name, LoadBalancerPort=spec.port, PolicyNames=list(spec.policies)
    )


def _same_but_policies(found: ListenerSpec, wanted: ListenerSpec) -> bool:
    return replace(found, policies=wanted.policies) == wanted


def _lacking(found: ListenerSpec, wanted: ListenerSpec) -> str:
    """What a found listener lacks compared with its record ("" if nothing)."""
    if not _same_but_policies(found, wanted):
        return "settings (protocol or certificate)"
    missing = [p for p in wanted.policies if p not in found.policies]
    return f"policies {', '.join(missing)}" if missing else ""


def _put_back(
    client: ElasticLoadBalancingClient,
    router: ClassicState,
    ports: list[int],
    written: dict[str, str],
) -> bool:
    """Re-create each listener where it was found; returns whether the router is clean again.

    Only then is the switch record cleared: a listener that could not go back (or one that
    was missing before) leaves the record, so `status` says so and `repair` can finish.
    """
    restored = True
    now = _listeners_now(client, router.elb_name)
    for spec in router.listeners:
        found = router.found.get(spec.port)
        if spec.port in ports and found is not None:
            restored = _restore(client, router.elb_name, found, spec, now) and restored
    clean = restored and router.switch is None and not router.missing
    if clean:
        try:
            _clear_record(client, router, written)
        except Exception as exc:
            error = str(exc.__cause__ or exc)
            get_logger().error("could not clear the switch record", error=error)
            return False
    return clean


def _restore(
    client: ElasticLoadBalancingClient,
    elb_name: str,
    found: Listener,
    spec: ListenerSpec,
    now: dict[int, Listener],
) -> bool:
    """Re-create, as `spec`, a listener that was `found`, unless it still is; whether it is back.

    A refused delete, for one, leaves its listener where it was; a listener that cannot be put
    back is logged, and the others are still tried.
    """
    if now.get(found.port) == found:
        return True
    try:
        client.delete_load_balancer_listeners(
            LoadBalancerName=elb_name, LoadBalancerPorts=[found.port]
        )
        _move(client, elb_name, None, spec, found.instance_port)
    except Exception as exc:
        get_logger().error("could not put listener back", listener=found.port, error=str(exc))
        return False
    return True


def _listeners_now(client: ElasticLoadBalancingClient, elb_name: str) -> dict[int, Listener]:
    """The listeners as they are now, or none known if they cannot be read."""
    try:
        found = client.describe_load_balancers(LoadBalancerNames=[elb_name])
    except Exception:
        return {}
    return listeners_found(dict(found["LoadBalancerDescriptions"][0]))


def health_check_settings(check: HealthCheck, port: int) -> dict[str, Any]:
    return {
        "Target": check.target(port),
        "Interval": check.interval,
        "Timeout": check.timeout,
        "UnhealthyThreshold": check.unhealthy_threshold,
        "HealthyThreshold": check.healthy_threshold,
    }


def _health_check_is(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(current.get(key) == value for key, value in wanted.items())


def configure_health_check(
    client: ElasticLoadBalancingClient, router: ClassicState, check: HealthCheck, port: int
) -> bool:
    """Aim the health check at `port` with the configured settings; returns whether it changed."""
    wanted = health_check_settings(check, port)
    if _health_check_is(router.health_check, wanted):
        return False
    client.configure_health_check(
        LoadBalancerName=router.elb_name,
        HealthCheck=wanted,  # type: ignore[arg-type]
    )
    get_logger().info("health check configured", target=wanted["Target"])
    return True


def record_commit(
    client: ElasticLoadBalancingClient, router: ClassicState, color: Color, commit: str
) -> None:
    """Remember on the load balancer which commit runs on `color` (read by `status`)."""
    if router.commits.get(color) == commit:
        return
    client.add_tags(
        LoadBalancerNames=[router.elb_name],
        Tags=[{"Key": COMMIT_TAG.format(color=color), "Value": commit}],
    )
