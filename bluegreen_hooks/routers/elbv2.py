"""The Application / Network Load Balancer router: traffic moved in place, one call per listener.

Each color has a target group (the nodes registered on the color's NodePort, the group's
port); the load balancer's tags `blue` and `green` name them. A switch is one ModifyListener
per public listener (its default actions) and one ModifyRule per listener rule that forwards to
a color's group: only the forward action changes, so certificates, SSL policies and every other
action stay as they are, and no port is ever without its listener or a forward target.

A stepped shift splits each forward action by weight; while it is under way the tag
`bluegreen-switch` says where it is going (the switch record's format), so `status` shows it as
a shift and `rollback` knows which color was live before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bluegreen_hooks import signals, switch_record
from bluegreen_hooks.colors import COLORS, Color, Ports, other
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import ConfigError, DeployFailed, InconsistentState
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.routers.base import Accept, RouterState, Weights
from bluegreen_hooks.routers.naming import LABELS, not_found
from bluegreen_hooks.switch_record import Switch

COMMIT_TAG = "{color}-commit"
HEALTH_POLL_SECONDS = 1.0
FINISH_HINT = (
    "finish it: rerun the interrupted step (the same hook, `bluegreen deploy` or "
    "`bluegreen rollback`), or run `bluegreen repair`, which points every listener at the "
    "color that is fully Ready"
)


@dataclass(frozen=True)
class Place:
    """Where a forward action lives: a public listener's default actions, or one of its rules."""

    arn: str
    port: int
    rule: str | None  # the rule's priority, or None for the listener's default actions
    actions: tuple[dict[str, Any], ...]

    def describe(self) -> str:
        return f"listener {self.port}" + (f" rule {self.rule}" if self.rule else "")

    def forward(self) -> dict[str, Any] | None:
        return next((a for a in self.actions if a.get("Type") == "forward"), None)

    def group_weights(self) -> dict[str, int]:
        """The forward action's weight per target group ARN (empty when it does not forward)."""
        action = self.forward()
        if action is None:
            return {}
        tuples = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if tuples:
            return {t["TargetGroupArn"]: int(t.get("Weight", 1)) for t in tuples}
        return {action["TargetGroupArn"]: 1} if action.get("TargetGroupArn") else {}

    def weights(self, groups: dict[Color, str]) -> Weights | None:
        """Percent per color; None when it forwards to any group that is not a color's, or to
        no target at all (every weight 0)."""
        found = self.group_weights()
        colors = {arn: color for color, arn in groups.items()}
        if not found or any(arn not in colors for arn in found):
            return None
        total = sum(found.values())
        if total == 0:
            return None
        blue = round(100 * found.get(groups["blue"], 0) / total)
        return {"blue": blue, "green": 100 - blue}

    def with_weights(self, groups: dict[Color, str], weights: Weights) -> list[dict[str, Any]]:
        """The same actions, the forward one now split by `weights` (a color at 0 is left out)."""
        actions = []
        for action in self.actions:
            if action is self.forward():
                forward = dict(action.get("ForwardConfig") or {})
                forward["TargetGroups"] = [
                    {"TargetGroupArn": groups[color], "Weight": weights[color]}
                    for color in COLORS
                    if weights[color]
                ]
                action = {k: v for k, v in action.items() if k != "TargetGroupArn"}
                action["ForwardConfig"] = forward
            actions.append(action)
        return actions


@dataclass(frozen=True)
class Elbv2State:
    """What the load balancer says: each color's target group and port, where traffic goes."""

    elb_name: str
    arn: str
    kind: str
    ports: Ports
    groups: dict[Color, str]  # target group ARN of each color
    group_names: dict[Color, str]
    places: tuple[Place, ...]  # default actions of public listeners, then rules on a color
    commits: dict[Color, str | None]
    record: switch_record.Record
    active: Color = "blue"
    missing: Sequence[Any] = field(default=())  # in-place moves never lose a listener

    @property
    def switch(self) -> Switch | None:
        return self.record.switch

    @property
    def idle(self) -> Color:
        return other(self.active)

    def weights_of(self, place: Place) -> Weights | None:
        return place.weights(self.groups)

    @property
    def agreed_weights(self) -> Weights | None:
        """The split every place forwards with, if they all forward to the colors and agree."""
        found = [self.weights_of(place) for place in self.places]
        if not found or found[0] is None or any(w != found[0] for w in found):
            return None
        return found[0]

    @property
    def weights(self) -> Weights | None:
        agreed = self.agreed_weights
        return agreed if agreed is not None and 0 < agreed["blue"] < 100 else None

    def agreed_color(self) -> Color | None:
        agreed = self.agreed_weights
        if agreed is None:
            return None
        return next((c for c in COLORS if agreed[c] == 100), None)

    def agreed_present_color(self) -> Color | None:
        return self.agreed_color()

    def state(self) -> str:
        parts = []
        for place in self.places:
            weights = self.weights_of(place)
            if weights is None:
                where = "on neither color"
            else:
                where = ("on " if weights["blue"] in (0, 100) else "") + _describe(weights)
            parts.append(f"{place.describe()} {where}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Elbv2Router:
    """An Application or Network Load Balancer (the config's `load-balancer-type`)."""

    config: Config
    client: Any

    @property
    def kind(self) -> str:
        return self.config.load_balancer_type

    @property
    def can_shift(self) -> bool:
        # AWS: "For Network Load Balancers, you can specify a single target group" in a
        # forward action, so only an ALB can split traffic by weight.
        return self.kind == "application"

    @property
    def judges_health(self) -> bool:
        return True  # each color's target group has its own targets and health checks

    # --- reading ---------------------------------------------------------------------------

    def read(self, *, accept: Accept = "consistent") -> Elbv2State:
        """Load balancer, tags, target groups, listeners and their rules; refuses what `accept`
        does not let through (exit 4)."""
        balancer = self._balancer()
        name = self.config.elb_name
        tags = self._tags(balancer["LoadBalancerArn"])
        group_names = _group_names(name, balancer["LoadBalancerArn"], tags)
        groups, ports = self._groups(group_names)
        state = Elbv2State(
            elb_name=name,
            arn=balancer["LoadBalancerArn"],
            kind=self.kind,
            ports=ports,
            groups=groups,
            group_names=group_names,
            places=self._places(balancer["LoadBalancerArn"], groups),
            commits={c: tags.get(COMMIT_TAG.format(color=c)) for c in COLORS},
            record=switch_record.read(name, tags),
        )
        return replace(state, active=_active_color(state, accept))

    def _balancer(self) -> dict[str, Any]:
        try:
            found = self.client.describe_load_balancers(Names=[self.config.elb_name])
        except self.client.exceptions.LoadBalancerNotFoundException as exc:
            raise not_found(self.config, self.kind) from exc
        balancer: dict[str, Any] = found["LoadBalancers"][0]
        if balancer["Type"] != self.kind:
            raise ConfigError(
                f"{self.config.path}: key 'elb-name': {self.config.elb_name!r} is not "
                f"{LABELS[self.kind]}: it is {LABELS.get(balancer['Type'], balancer['Type'])}",
                hint=f'set "load-balancer-type": "{balancer["Type"]}" in {self.config.path}',
            )
        return balancer

    def _tags(self, arn: str) -> dict[str, str]:
        found = self.client.describe_tags(ResourceArns=[arn])["TagDescriptions"]
        return {t["Key"]: t.get("Value", "") for d in found for t in d.get("Tags", [])}

    def _groups(self, names: dict[Color, str]) -> tuple[dict[Color, str], Ports]:
        """Each color's target group ARN, and its port (the color's NodePort): one call."""
        try:
            found = self.client.describe_target_groups(Names=[names[c] for c in COLORS])
        except self.client.exceptions.TargetGroupNotFoundException as exc:
            raise self._missing_group(names) from exc
        by_name = {group["TargetGroupName"]: group for group in found["TargetGroups"]}
        arns = {c: str(by_name[names[c]]["TargetGroupArn"]) for c in COLORS}
        ports = {c: int(by_name[names[c]]["Port"]) for c in COLORS}
        if ports["blue"] == ports["green"]:
            raise InconsistentState(
                f"load balancer {self.config.elb_name}: target groups {names['blue']} and "
                f"{names['green']} are both on port {ports['blue']}",
                hint="each color needs its own NodePort: recreate one target group on the "
                "other color's port",
            )
        return arns, Ports(blue=ports["blue"], green=ports["green"])

    def _missing_group(self, names: dict[Color, str]) -> InconsistentState:
        """Which tag names a target group that does not exist (asked one at a time)."""
        for color in COLORS:
            try:
                self.client.describe_target_groups(Names=[names[color]])
            except self.client.exceptions.TargetGroupNotFoundException:
                break
        return InconsistentState(
            f"load balancer {self.config.elb_name}: tag '{color}' names target group "
            f"{names[color]!r}, which does not exist",
            hint=f"create it on the {color} NodePort: aws elbv2 create-target-group "
            f"--name {names[color]} --protocol HTTP --port <{color} NodePort> "
            "--vpc-id <vpc> --target-type instance, then register the nodes",
        )

    def _places(self, arn: str, groups: dict[Color, str]) -> tuple[Place, ...]:
        listeners = self.client.describe_listeners(LoadBalancerArn=arn)["Listeners"]
        by_port = {int(listener["Port"]): listener for listener in listeners}
        wanted = _public_ports(self.config, sorted(by_port))
        colored = set(groups.values())
        defaults, rules = [], []
        for port in wanted:
            listener = by_port[port]
            defaults.append(
                Place(listener["ListenerArn"], port, None, tuple(listener["DefaultActions"]))
            )
            if self.kind == "network":
                continue  # a Network Load Balancer's listeners have no rules
            found = self.client.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            for rule in found:
                place = Place(rule["RuleArn"], port, rule["Priority"], tuple(rule["Actions"]))
                if not rule.get("IsDefault") and colored & set(place.group_weights()):
                    rules.append(place)
        return tuple(defaults + rules)

    # --- moving traffic --------------------------------------------------------------------

    def point_at(self, state: RouterState, target: Color, *, by: str, step: str) -> list[int]:
        """Every forward action on the color's group: one call per listener and color rule.

        Each call is atomic, but a crash between two of them would leave listeners that
        disagree with nothing saying why; so when more than one must move, the switch is
        recorded on the load balancer's tags first and cleared last, as on a Classic ELB: an
        interrupted switch is reported by `status` and finished by a rerun or `repair`.
        """
        own = _elbv2(state)
        weights: Weights = {target: 100, other(target): 0}
        pending = self._pending(own, weights)
        written: dict[str, str] = {}
        with signals.deferred():
            if len(pending) > 1:
                written = self._write_record(own, Switch(target=target, by=by, step=step))
            moved = self._set_weights(own, weights, pending, written)
            if own.switch is not None or written:
                self._clear_record(own, written)
        signals.stop_here(lambda: f"the switch to {target} is complete")
        return moved

    def shift(
        self, state: RouterState, target: Color, percent: int, *, by: str, step: str
    ) -> list[int]:
        if percent >= 100:
            return self.point_at(state, target, by=by, step=step)
        own = _elbv2(state)
        self._write_record(own, Switch(target=target, by=by, step=step))
        weights: Weights = {target: percent, other(target): 100 - percent}
        return self._set_weights(own, weights, self._pending(own, weights))

    def _pending(self, state: Elbv2State, weights: Weights) -> list[Place]:
        return [p for p in state.places if state.weights_of(p) != weights]

    def _set_weights(
        self,
        state: Elbv2State,
        weights: Weights,
        pending: list[Place],
        written: dict[str, str] | None = None,
    ) -> list[int]:
        """Each `pending` place to `weights`; a place that cannot be moved sends those moved
        back (and then clears the switch record `written` for this move, if nothing was left
        astray)."""
        moved: list[Place] = []

        def situation() -> str:
            return f"{len(moved)} of {len(pending)} listeners and rules moved ({state.state()})"

        with signals.deferred():
            for place in pending:
                signals.stop_here(situation, FINISH_HINT)
                try:
                    self._modify(place, place.with_weights(state.groups, weights))
                except Exception as exc:
                    stranded = self._put_back(moved)
                    if written and not stranded and state.switch is None:
                        stranded = self._clear_after_put_back(state, written)
                    raise DeployFailed(
                        f"could not point {place.describe()} of {state.elb_name} at "
                        f"{_describe(weights)}: {exc}",
                        hint=f"{', '.join(stranded)} could not be put back: {FINISH_HINT}"
                        if stranded
                        else "every listener is back where it was; retry",
                    ) from exc
                get_logger().info(
                    "listener switched" if place.rule is None else "listener rule switched",
                    listener=place.port,
                    **({"rule": place.rule} if place.rule else {}),
                    to=_describe(weights),
                )
                moved.append(place)
        return sorted({place.port for place in moved})

    def _modify(self, place: Place, actions: list[dict[str, Any]]) -> None:
        if place.rule is None:
            self.client.modify_listener(ListenerArn=place.arn, DefaultActions=actions)
        else:
            self.client.modify_rule(RuleArn=place.arn, Actions=actions)

    def _put_back(self, moved: Iterable[Place]) -> list[str]:
        """Each moved place back to the actions it had; the ones that could not be."""
        stranded = []
        for place in moved:
            try:
                self._modify(place, list(place.actions))
            except Exception as exc:
                get_logger().error("could not put back", place=place.describe(), error=str(exc))
                stranded.append(place.describe())
        return stranded

    def _write_record(self, state: Elbv2State, switch: Switch) -> dict[str, str]:
        """Record `switch` on the load balancer's tags; returns the tags written (none when
        the same switch is recorded already, as in a later step of one shift)."""
        if state.switch is not None and state.switch.target == switch.target:
            return {}
        tags = switch_record.tags_for((), switch)
        self.client.add_tags(
            ResourceArns=[state.arn], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
        return tags

    def _clear_record(self, state: Elbv2State, written: dict[str, str] | None = None) -> None:
        keys = sorted({*state.record.tags, *(written or {})})
        if keys:
            self.client.remove_tags(ResourceArns=[state.arn], TagKeys=keys)

    def _clear_after_put_back(self, state: Elbv2State, written: dict[str, str]) -> list[str]:
        """Clear the record of a switch undone; what is astray if it could not be cleared."""
        try:
            self._clear_record(state, written)
        except Exception as exc:
            get_logger().error("could not clear the switch record", error=str(exc))
            return [f"the switch record ({switch_record.SWITCH_TAG} tag)"]
        return []

    def record_commit(self, state: RouterState, color: Color, commit: str) -> None:
        if state.commits.get(color) == commit:
            return
        self.client.add_tags(
            ResourceArns=[_elbv2(state).arn],
            Tags=[{"Key": COMMIT_TAG.format(color=color), "Value": commit}],
        )

    # --- health ----------------------------------------------------------------------------

    def health_problem(self, state: RouterState, color: Color) -> str | None:
        """None when every target registered in the color's group is healthy (and there is
        at least one), else what is not."""
        own = _elbv2(state)
        found = self.client.describe_target_health(TargetGroupArn=own.groups[color])
        targets = found["TargetHealthDescriptions"]
        sick = [t for t in targets if t["TargetHealth"]["State"] != "healthy"]
        name = own.group_names[color]
        if not targets:
            return f"target group {name} ({color}) has no registered targets"
        if not sick:
            return None
        first = sick[0]
        why = first["TargetHealth"].get("Reason") or first["TargetHealth"]["State"]
        return (
            f"target group {name} ({color}): {len(targets) - len(sick)}/{len(targets)} targets "
            f"healthy ({first['Target']['Id']}: {why})"
        )

    def wait_healthy(self, state: RouterState, color: Color, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (problem := self.health_problem(state, color)) is not None:
            if time.monotonic() >= deadline:
                raise DeployFailed(
                    f"{problem} after {timeout:g} s",
                    hint="check the target group's health check and the color's pods",
                )
            time.sleep(min(HEALTH_POLL_SECONDS, max(deadline - time.monotonic(), 0)))


def _elbv2(state: RouterState) -> Elbv2State:
    assert isinstance(state, Elbv2State), state
    return state


def _describe(weights: Weights) -> str:
    if weights["blue"] in (0, 100):
        return "blue" if weights["blue"] else "green"
    return f"blue {weights['blue']}% green {weights['green']}%"


def _group_names(name: str, arn: str, tags: dict[str, str]) -> dict[Color, str]:
    fix = (
        f"tag the load balancer with each color's target group: aws elbv2 add-tags "
        f"--resource-arns {arn} --tags Key=blue,Value=<blue target group> "
        "Key=green,Value=<green target group>"
    )
    for color in COLORS:
        if not tags.get(color, "").strip():
            raise InconsistentState(f"load balancer {name} has no '{color}' tag", hint=fix)
    if tags["blue"].strip() == tags["green"].strip():
        raise InconsistentState(
            f"load balancer {name}: tags 'blue' and 'green' both name target group "
            f"{tags['blue']!r}",
            hint="give each color its own target group; " + fix,
        )
    return {color: tags[color].strip() for color in COLORS}


def _public_ports(config: Config, found: list[int]) -> list[int]:
    if not found:
        raise InconsistentState(
            f"load balancer {config.elb_name} has no listeners",
            hint="create the public listeners (e.g. HTTP 80, HTTPS 443) forwarding to the blue "
            "target group",
        )
    wanted = list(config.listeners or found)
    unknown = [p for p in wanted if p not in found]
    if unknown:
        raise ConfigError(
            f"{config.path}: key 'listeners': port {unknown[0]} is not a listener of "
            f"{config.elb_name} (it has {', '.join(map(str, found))})",
            hint="list only ports the load balancer listens on, or drop 'listeners'",
        )
    return wanted


def _active_color(state: Elbv2State, accept: Accept) -> Color:
    """The live color; raises InconsistentState for any state `accept` does not let through.

    A recorded shift is let through whenever every listener agrees on a split: that is a
    shift under way, which `status` shows; the color live before it is the active one. A
    record beside listeners that disagree, or that all moved already, is an unfinished one.
    """
    name = state.elb_name
    switch = state.switch
    agreed = state.agreed_weights
    if accept == "anything":
        if switch:
            return other(switch.target)
        return "blue" if agreed is None or agreed["blue"] >= 50 else "green"
    for place in state.places:
        if state.weights_of(place) is None:
            raise InconsistentState(
                f"load balancer {name}: {place.describe()} forwards to neither color's "
                f"target group ({state.group_names['blue']}, {state.group_names['green']})",
                hint="point it at one color with `bluegreen repair --color C`",
            )
    if switch is not None:
        under_way = agreed is not None and 0 < agreed["blue"] < 100
        if not under_way and accept != "unfinished":
            raise InconsistentState(
                f"load balancer {name}: a switch to {switch.target} ({switch.step} "
                f"{switch.by}) did not finish: {state.state()}",
                hint=FINISH_HINT,
            )
        return other(switch.target)
    if agreed is None:
        raise InconsistentState(
            f"load balancer {name}: listeners disagree ({state.state()})",
            hint="point every listener at one color with `bluegreen repair` (it picks the "
            "color that is fully Ready) or `bluegreen repair --color C`",
        )
    color = state.agreed_color()
    if color is None:
        raise InconsistentState(
            f"load balancer {name}: traffic is split ({state.state()}) but no shift is recorded",
            hint="put all of it on one color with `bluegreen repair` or `bluegreen repair "
            "--color C`",
        )
    return color
