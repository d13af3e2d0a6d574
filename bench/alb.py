"""The ALB switch beside the Classic ELB's, in the same run: rollback time and what an observer
polling the listeners sees (no listener, no forward target, traffic on two colors)."""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from bench.report import Goal, Section, Table, count, faster_by, seconds, spread, times
from bench.stats import Summary, summarize
from bench.switch_window import Observer as ClassicObserver
from bench.window import WindowTotals
from bench.world import PUBLIC_PORTS, App, BenchError, Timed, World
from bluegreen_hooks.sandbox.scenario import create_application_load_balancer

GOAL_FACTOR = 10.0
FLOWS = ("alb", "classic", "baseline")
HEADERS = ("figure", "ALB", "Classic ELB", "seed's shell (Classic)", "seed ÷ ALB")


@dataclass(frozen=True)
class Look:
    """One poll of the ALB: when, and per public port "blue"/"green", "split", "none" (no
    forward target to a color) or absent (no listener)."""

    time: float
    where: dict[int, str]


class AlbObserver:
    """A thread calling `describe_listeners` back to back, recording where each port forwards."""

    def __init__(self, arns: dict[str, str]) -> None:
        self._client: Any = boto3.client("elbv2")
        self._arns = arns
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-alb-observer", daemon=True)
        self.looks: list[Look] = []
        self.error: BaseException | None = None

    def __enter__(self) -> AlbObserver:
        self._thread.start()
        if not self._first.wait(timeout=30):
            raise BenchError("the ALB observer saw nothing in 30 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        if self.error is not None:
            raise BenchError(f"the ALB observer failed: {self.error}")

    def _poll(self) -> None:
        colors = {self._arns["blue"]: "blue", self._arns["green"]: "green"}
        try:
            while not self._stop.is_set():
                before = time.perf_counter()
                found = self._client.describe_listeners(LoadBalancerArn=self._arns["balancer"])
                after = time.perf_counter()
                where = {
                    int(listener["Port"]): forwards_to(listener["DefaultActions"], colors)
                    for listener in found["Listeners"]
                }
                self.looks.append(Look((before + after) / 2, where))
                self._first.set()
        except BaseException as exc:  # reported on exit
            self.error = exc
            self._first.set()


def forwards_to(actions: list[dict[str, Any]], colors: dict[str, str]) -> str:
    """ "blue", "green", "split" (both, by weight) or "none" (no forward to a color)."""
    forward = next((a for a in actions if a["Type"] == "forward"), None)
    if forward is None:
        return "none"
    groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": forward.get("TargetGroupArn"), "Weight": 1}
    ]
    live = {colors.get(g["TargetGroupArn"], "other") for g in groups if g.get("Weight", 1) > 0}
    if not live or "other" in live:
        return "none"
    return live.pop() if len(live) == 1 else "split"


@dataclass(frozen=True)
class Totals:
    without_listener: dict[int, float]
    without_target: float  # a port present but forwarding to no color's target group
    split: float  # ports on different colors, or a port split between them


def account_alb(looks: Sequence[Look]) -> Totals:
    """As `bench.window.account`: an interval counts when its first look showed the state."""
    missing = dict.fromkeys(PUBLIC_PORTS, 0.0)
    none = split = 0.0
    for seen, following in itertools.pairwise(looks):
        interval = following.time - seen.time
        for port in PUBLIC_PORTS:
            if port not in seen.where:
                missing[port] += interval
        present = [seen.where[p] for p in PUBLIC_PORTS if p in seen.where]
        if "none" in present:
            none += interval
        elif "split" in present or len(set(present)) > 1:
            split += interval
    return Totals(missing, none, split)


def account_classic(totals: WindowTotals) -> Totals:
    # A Classic listener always forwards to an instance port; without one it is missing.
    return Totals(dict(totals.without_listener), 0.0, totals.disagreeing)


def make_alb_app(world: World, name: str) -> tuple[App, dict[str, str]]:
    """The bench app behind its own ALB (HTTP 80, HTTPS 443), both colors Ready."""
    app = world.app(name)
    alb_name = f"{name}-alb"
    arns = create_application_load_balancer(
        alb_name, blue=app.blue, green=app.green, certificate=world.certificate
    )
    config = json.loads(app.config.read_text(encoding="utf-8"))
    config.update({"elb-name": alb_name, "load-balancer-type": "application"})
    app.config.write_text(json.dumps(config, indent=2), encoding="utf-8")
    world.prepare_both_colors(app)
    return app, arns


def alb_live(arns: dict[str, str]) -> str:
    client: Any = boto3.client("elbv2")
    colors = {arns["blue"]: "blue", arns["green"]: "green"}
    found = client.describe_listeners(LoadBalancerArn=arns["balancer"])["Listeners"]
    where = {forwards_to(listener["DefaultActions"], colors) for listener in found}
    if len(where) != 1 or where & {"none", "split"}:
        raise BenchError(f"the ALB's listeners are not on one color: {where}")
    return where.pop()


def measure(world: World, runs: int) -> list[Section]:
    alb_app, arns = make_alb_app(world, "bench-alb")
    classic_app = world.app("bench-alb-classic")
    world.prepare_both_colors(classic_app)
    wall: dict[str, list[float]] = {flow: [] for flow in FLOWS}
    requests: dict[str, list[float]] = {flow: [] for flow in FLOWS}
    seen: dict[str, list[Totals]] = {flow: [] for flow in FLOWS}
    for run in range(runs):
        for flow in FLOWS:
            # Timed alone (an observer in this process slows the emulated AWS), then again
            # under the observer for the window figures.
            before = _product_requests(world)
            wall[flow].append(_rollback(world, flow, alb_app, classic_app, arns).seconds)
            requests[flow].append(_product_requests(world) - before)
            if flow == "alb":
                with AlbObserver(arns) as alb_observer:
                    _rollback(world, flow, alb_app, classic_app, arns)
                seen[flow].append(account_alb(alb_observer.looks))
            else:
                with ClassicObserver(world.elb, classic_app.name) as observer:
                    _rollback(world, flow, alb_app, classic_app, arns)
                seen[flow].append(account_classic(observer.totals()))
        print(
            f"bench: ALB beside Classic {run + 1}/{runs}: rollback ALB {wall['alb'][-1]:.2f} s, "
            f"Classic {wall['classic'][-1]:.2f} s, seed {wall['baseline'][-1]:.2f} s",
            file=sys.stderr,
        )
    return [_section(runs, wall, requests, seen)]


def _rollback(
    world: World, flow: str, alb_app: App, classic_app: App, arns: dict[str, str]
) -> Timed:
    """One rollback of `flow`, checked to have moved every listener to the other color."""
    if flow == "alb":
        target = "green" if alb_live(arns) == "blue" else "blue"
        timed = world.bluegreen(alb_app, "rollback")
        if alb_live(arns) != target:
            raise BenchError(f"ALB rollback left traffic off {target}")
        return timed
    target = world.idle_color(classic_app)
    if flow == "classic":
        timed = world.bluegreen(classic_app, "rollback")
    else:
        timed = world.baseline("oops-rollback", classic_app.name, world.certificate)
    world.expect_live(classic_app, target, after=f"{flow} rollback")
    return timed


def _product_requests(world: World) -> int:
    """Requests bluegreen made so far (told apart by its User-Agent; not the observer's)."""
    counts = world.sandbox.aws.operations.counts()
    return sum(n for (caller, _, _), n in counts.items() if caller == "product")


def _section(
    runs: int,
    wall: dict[str, list[float]],
    requests: dict[str, list[float]],
    seen: dict[str, list[Totals]],
) -> Section:
    def row(
        figure: str,
        values: dict[str, list[float]],
        fmt: Callable[[float], str] = seconds,
        *,
        ratio: bool = False,
    ) -> list[str]:
        summaries = {flow: summarize(values[flow]) for flow in FLOWS}
        shown = [spread(summaries[flow], fmt) for flow in FLOWS]
        return [figure, *shown, _ratio(summaries["baseline"], summaries["alb"]) if ratio else ""]

    def observed(pick: Callable[[Totals], float]) -> dict[str, list[float]]:
        return {flow: [pick(t) for t in seen[flow]] for flow in FLOWS}

    rows = [
        row("rollback, whole process (checks included)", wall, ratio=True),
        row("no listener on 80 (observer)", observed(lambda t: t.without_listener[80])),
        row("no listener on 443 (observer)", observed(lambda t: t.without_listener[443])),
        row("a listener with no forward target (observer)", observed(lambda t: t.without_target)),
        row("traffic on two colors at once (observer)", observed(lambda t: t.split)),
    ]
    zero = all(t.without_target == 0 and not any(t.without_listener.values()) for t in seen["alb"])
    return Section(
        title="7. Application Load Balancer beside the Classic ELB",
        text=(
            f"In the same run, {runs} times each and alternating: `bluegreen rollback` behind "
            "an ALB (HTTP 80 and HTTPS 443 forwarding to a target group per color), `bluegreen "
            "rollback` behind a Classic ELB, and the seed's `oops-rollback` behind the Classic "
            "ELB; both colors run Ready pods. Behind the ALB, rollback asks AWS alone whether "
            "the color it goes to is healthy (its target group's target health) and moves each "
            "listener with one `ModifyListener`; behind the Classic ELB it asks Kubernetes (the "
            "readiness child) and deletes and re-creates each listener. While each runs, a "
            "thread polls the listeners back to back (`describe_listeners` for the ALB, "
            "`describe_load_balancers` for the Classic ELB), accounted as in 2. Each flow runs "
            "twice per round: timed alone (the first row and the requests), then observed (an "
            "observer in the benchmark's process slows the emulated AWS for every flow)."
        ),
        tables=[
            Table(HEADERS, rows),
            Table(
                ("figure", "ALB", "Classic ELB"),
                [
                    [
                        "AWS API requests of `bluegreen rollback`",
                        *(spread(summarize(requests[f]), count) for f in ("alb", "classic")),
                    ]
                ],
            ),
        ],
        notes=[
            "*Traffic on two colors at once* is the moment between the two listeners' moves "
            "(80 moved, 443 not yet): about one API round trip for either router.",
        ],
        goals=[
            faster_by(
                f"ALB `bluegreen rollback` at least {GOAL_FACTOR:.0f}x faster than `oops-rollback`",
                summarize(wall["alb"]),
                summarize(wall["baseline"]),
                GOAL_FACTOR,
            ),
            Goal(
                "behind the ALB, zero time without a listener or a forward target (observer)",
                "0" if zero else "not zero",
                zero,
            ),
        ],
    )


def _ratio(baseline: Summary, ours: Summary) -> str:
    return times(baseline.median / ours.median) if ours.median > 0 else "n/a"
