"""An application behind an Application (or Network) Load Balancer, and its state read back."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.scenario import create_application_load_balancer
from tests.e2e.world import App, make_app

Weights = dict[str, int]


@dataclass
class AlbApp:
    """The example app (its folder, templates, Kubernetes) with an ALB as its router."""

    app: App
    name: str
    arns: dict[str, str]

    @property
    def elbv2(self) -> Any:
        return boto3.client("elbv2")

    @property
    def ec2(self) -> Any:
        return boto3.client("ec2")

    def listeners(self) -> dict[int, dict[str, Any]]:
        found = self.elbv2.describe_listeners(LoadBalancerArn=self.arns["balancer"])
        return {int(listener["Port"]): listener for listener in found["Listeners"]}

    def weights(self, actions: list[dict[str, Any]]) -> Weights | None:
        """Percent per color of the forward action (None: no forward to a color)."""
        colors = {self.arns["blue"]: "blue", self.arns["green"]: "green"}
        forward = next((a for a in actions if a["Type"] == "forward"), None)
        if forward is None:
            return None
        tuples = forward.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": forward["TargetGroupArn"], "Weight": 1}
        ]
        total = sum(t.get("Weight", 1) for t in tuples)
        if total == 0 or any(t["TargetGroupArn"] not in colors for t in tuples):
            return None
        found = {"blue": 0, "green": 0}
        for t in tuples:
            found[colors[t["TargetGroupArn"]]] = round(100 * t.get("Weight", 1) / total)
        return found

    def default_weights(self) -> dict[int, Weights | None]:
        return {port: self.weights(lst["DefaultActions"]) for port, lst in self.listeners().items()}

    def colors(self) -> set[str]:
        """The color every default action forwards to (all of its traffic)."""
        found = set()
        for weights in self.default_weights().values():
            assert weights is not None
            found |= {color for color, percent in weights.items() if percent == 100}
        return found

    def rules(self, port: int) -> list[dict[str, Any]]:
        arn = self.listeners()[port]["ListenerArn"]
        found = self.elbv2.describe_rules(ListenerArn=arn)["Rules"]
        return [rule for rule in found if not rule["IsDefault"]]

    def add_rule(self, port: int, path: str, target: str, priority: int) -> str:
        rule = self.elbv2.create_rule(
            ListenerArn=self.listeners()[port]["ListenerArn"],
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [path]}],
            Actions=[{"Type": "forward", "TargetGroupArn": target}],
        )
        return str(rule["Rules"][0]["RuleArn"])

    def foreign_group(self, name: str) -> str:
        """A target group that belongs to neither color."""
        group = self.elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=31999, VpcId=self.arns["vpc"], TargetType="instance"
        )
        return str(group["TargetGroups"][0]["TargetGroupArn"])

    def forward(self, port: int, target: str) -> None:
        """Point a listener's default action at a group by hand, as at the console."""
        self.elbv2.modify_listener(
            ListenerArn=self.listeners()[port]["ListenerArn"],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": target}],
        )

    def tag(self, **tags: str) -> None:
        self.elbv2.add_tags(
            ResourceArns=[self.arns["balancer"]],
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    def tags(self) -> dict[str, str]:
        found = self.elbv2.describe_tags(ResourceArns=[self.arns["balancer"]])
        return {t["Key"]: t["Value"] for t in found["TagDescriptions"][0]["Tags"]}

    def sick_node(self, color: str) -> str:
        """A stopped instance registered only in `color`'s group: the group is not healthy."""
        in_vpc = [{"Name": "vpc-id", "Values": [self.arns["vpc"]]}]
        subnet = self.ec2.describe_subnets(Filters=in_vpc)["Subnets"][0]["SubnetId"]
        [instance] = self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet
        )["Instances"]
        self.elbv2.register_targets(
            TargetGroupArn=self.arns[color],
            Targets=[{"Id": instance["InstanceId"], "Port": self.app.port(color)}],
        )
        return str(instance["InstanceId"])

    def stop(self, instance: str) -> None:
        self.ec2.stop_instances(InstanceIds=[instance])


def make_alb_app(sandbox: Sandbox, tmp_path: Path, *, kind: str = "application") -> AlbApp:
    """The example app under a fresh name, its config naming a fresh ALB (HTTP 80, HTTPS 443
    with a certificate, blue live)."""
    app = make_app(sandbox, tmp_path)
    name = f"alb-{app.name}"
    arns = create_application_load_balancer(
        name, blue=app.blue, green=app.green, certificate=app.certificate, kind=kind
    )
    app.settings(**{"elb-name": name, "load-balancer-type": kind})
    return AlbApp(app=app, name=name, arns=arns)


@dataclass
class Observer:
    """Reads the listeners over and over while a switch runs: every port must always have its
    listener and a forward action to a color."""

    alb: AlbApp
    ports: tuple[int, ...] = (80, 443)
    seen: list[dict[int, Weights | None]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Observer:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)
        self._look()  # at least one look after the switch

    def _watch(self) -> None:
        client = self.alb.elbv2
        while not self._stop.is_set():
            self._look(client)

    def _look(self, client: Any = None) -> None:
        client = client or self.alb.elbv2
        found = client.describe_listeners(LoadBalancerArn=self.alb.arns["balancer"])["Listeners"]
        by_port = {int(listener["Port"]): listener for listener in found}
        weights: dict[int, Weights | None] = {}
        for port in self.ports:
            if port not in by_port:
                self.gaps.append(f"no listener on {port}")
                continue
            weights[port] = self.alb.weights(by_port[port]["DefaultActions"])
            if weights[port] is None:
                self.gaps.append(f"listener {port} forwards to no color")
        if not self.seen or self.seen[-1] != weights:
            self.seen.append(weights)

    def green_shares(self, port: int = 80) -> list[int]:
        """The green share on `port` each time it changed, in order."""
        shares: list[int] = []
        for look in self.seen:
            weights = look.get(port)
            if weights is not None and (not shares or shares[-1] != weights["green"]):
                shares.append(weights["green"])
        return shares
