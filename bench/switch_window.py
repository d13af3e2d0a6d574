"""Switch window: what an observer polling the ELB sees while listeners move to the other color."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from bench.report import (
    COMPARISON_HEADERS,
    Section,
    Table,
    at_most,
    comparison_row,
    listener_gap_rows,
    rate,
    seconds,
    spread,
)
from bench.stats import summarize
from bench.timeline import listener_gaps
from bench.window import Observation, WindowTotals, account
from bench.world import PUBLIC_PORTS, App, BenchError, World

GOAL_SECONDS = 0.025


class Observer:
    """A thread calling `describe_load_balancers` back to back, recording what it sees."""

    def __init__(self, elb: Any, name: str) -> None:
        self._elb, self._name = elb, name
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-observer", daemon=True)
        self.observations: list[Observation] = []
        self.error: BaseException | None = None

    def __enter__(self) -> Observer:
        self._thread.start()
        if not self._first.wait(timeout=30):
            raise BenchError("the observer saw nothing in 30 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def totals(self) -> WindowTotals:
        if self.error is not None:
            raise BenchError(f"the observer failed: {self.error}")
        return account(self.observations, PUBLIC_PORTS)

    def _poll(self) -> None:
        try:
            while not self._stop.is_set():
                before = time.perf_counter()
                found = self._elb.describe_load_balancers(LoadBalancerNames=[self._name])
                after = time.perf_counter()
                listeners = found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
                ports = {
                    d["Listener"]["LoadBalancerPort"]: d["Listener"]["InstancePort"]
                    for d in listeners
                }
                self.observations.append(Observation((before + after) / 2, ports))
                self._first.set()
        except BaseException as exc:  # reported by totals()
            self.error = exc
            self._first.set()


def measure(world: World, runs: int) -> list[Section]:
    app = world.app("bench-window")
    world.prepare_both_colors(app)
    seen: dict[str, list[WindowTotals]] = {"ours": [], "baseline": []}
    gaps: dict[str, list[list[float]]] = {"ours": [], "baseline": []}
    for run in range(runs):
        for flow in ("ours", "baseline"):
            totals, server_gaps = _one_switch(world, app, flow)
            seen[flow].append(totals)
            gaps[flow].append(server_gaps)
        shown = {
            flow: "/".join(seconds(seen[flow][-1].without_listener[p]) for p in PUBLIC_PORTS)
            for flow in seen
        }
        print(
            f"bench: switch window {run + 1}/{runs}: without a listener on 80/443: "
            f"bluegreen {shown['ours']}, baseline {shown['baseline']}",
            file=sys.stderr,
        )
    rows: list[list[str]] = []
    goals = []
    for port in PUBLIC_PORTS:
        ours = summarize([t.without_listener[port] for t in seen["ours"]])
        baseline = summarize([t.without_listener[port] for t in seen["baseline"]])
        rows.append(comparison_row(f"no listener on {port} (observer)", ours, baseline))
        goals.append(
            at_most(
                f"at most {GOAL_SECONDS * 1000:.0f} ms without a listener on port {port}",
                ours,
                GOAL_SECONDS,
            )
        )
    rows.append(
        comparison_row(
            "80 and 443 on different colors (observer)",
            summarize([t.disagreeing for t in seen["ours"]]),
            summarize([t.disagreeing for t in seen["baseline"]]),
        )
    )
    rows += listener_gap_rows(PUBLIC_PORTS, gaps["ours"], gaps["baseline"])
    rows.append(
        [
            "observer poll rate",
            spread(summarize([t.poll_rate for t in seen["ours"]]), rate),
            spread(summarize([t.poll_rate for t in seen["baseline"]]), rate),
            "",
        ]
    )
    return [
        Section(
            title="2. Switch window",
            text=(
                f"{runs} switches each way, alternating as in 1: `bluegreen rollback` and "
                "`oops-rollback`. While each runs, a thread of the benchmark calls "
                "`describe_load_balancers` (boto3) back to back and records which instance "
                "port each public listener forwards to. Between two consecutive observations, "
                "the interval counts as *no listener on P* when the first of them showed no "
                "listener on P, and as *different colors* when it showed both listeners "
                "forwarding to different ports; a window shorter than one poll interval may "
                "be missed or counted as a whole interval, so the poll rate is the resolution. "
                "As a cross-check independent of polling, the server log gives the time from "
                "each listener's delete request to its create request arriving at the "
                "emulated AWS (an upper bound of the no-listener time, less the create's own "
                "handling)."
            ),
            tables=[Table(COMPARISON_HEADERS, rows)],
            notes=[
                "The observer runs in the benchmark's process, beside the emulated AWS, and "
                "slows it for both flows: compare the server-log rows with those of 1, "
                "measured without an observer.",
                "bluegreen moves one listener at a time (delete 80, create 80, delete 443, "
                "create 443), so for a moment 80 already forwards to the new color while 443 "
                "still forwards to the old one; the baseline deletes both first, so it has "
                "no such moment, but both ports are without a listener meanwhile.",
            ],
            goals=goals,
        )
    ]


def _one_switch(world: World, app: App, flow: str) -> tuple[WindowTotals, list[float]]:
    target = world.idle_color(app)
    world.sandbox.aws.reset_counters()
    with Observer(world.elb, app.name) as observer:
        if flow == "ours":
            world.bluegreen(app, "rollback")
        else:
            world.baseline("oops-rollback", app.name, world.certificate)
    world.expect_live(app, target, after=f"{flow} switch")
    server_gaps = listener_gaps(list(world.sandbox.aws.request_log))
    if len(server_gaps) != len(PUBLIC_PORTS):
        raise BenchError(f"{flow}: expected {len(PUBLIC_PORTS)} listener moves, saw {server_gaps}")
    return observer.totals(), server_gaps
