"""Rollback time: `bluegreen rollback` against the seed's `oops-rollback`, whole processes."""

from __future__ import annotations

import sys

from bench.report import (
    COMPARISON_HEADERS,
    Section,
    Table,
    comparison_row,
    count,
    faster_by,
    listener_gap_rows,
)
from bench.stats import summarize
from bench.timeline import listener_gaps
from bench.world import PUBLIC_PORTS, BenchError, World

GOAL_FACTOR = 8.0


def measure(world: World, runs: int) -> list[Section]:
    app = world.app("bench-rollback")
    world.prepare_both_colors(app)
    aws, kube = world.sandbox.aws, world.sandbox.kube
    flows = ("ours", "forced", "baseline")
    wall: dict[str, list[float]] = {flow: [] for flow in flows}
    aws_requests: dict[str, list[float]] = {flow: [] for flow in flows}
    kube_requests: dict[str, list[float]] = {flow: [] for flow in flows}
    gaps: dict[str, list[list[float]]] = {flow: [] for flow in flows}
    for run in range(runs):
        for flow in flows:  # alternate; each run flips the live color
            target = world.idle_color(app)
            aws.reset_counters()
            kube.reset_counters()
            if flow != "baseline":
                forced = ("--force",) if flow == "forced" else ()
                timed = world.bluegreen(app, "rollback", *forced)
                switched = [e for e in timed.events() if e.get("event") == "listener switched"]
                if len(switched) != 2:
                    raise BenchError(
                        f"`bluegreen rollback` switched {len(switched)} listeners, not 2:\n"
                        + timed.stderr[-2000:]
                    )
            else:
                timed = world.baseline("oops-rollback", app.name, world.certificate)
            aws_requests[flow].append(aws.request_count)
            gaps[flow].append(listener_gaps(list(aws.request_log)))
            kube_requests[flow].append(kube.request_count)
            world.expect_live(app, target, after=f"{flow} rollback")
            wall[flow].append(timed.seconds)
        print(
            f"bench: rollback {run + 1}/{runs}: bluegreen {wall['ours'][-1]:.2f} s, "
            f"--force {wall['forced'][-1]:.2f} s, baseline {wall['baseline'][-1]:.2f} s",
            file=sys.stderr,
        )
    ours, baseline = summarize(wall["ours"]), summarize(wall["baseline"])
    rows = [
        comparison_row("wall time, whole process", ours, baseline),
        comparison_row(
            "wall time, `rollback --force` (no readiness check, like the seed)",
            summarize(wall["forced"]),
            baseline,
        ),
        comparison_row(
            "AWS API requests",
            summarize(aws_requests["ours"]),
            summarize(aws_requests["baseline"]),
            count,
        ),
        comparison_row(
            "Kubernetes API requests",
            summarize(kube_requests["ours"]),
            summarize(kube_requests["baseline"]),
            count,
        ),
    ]
    rows += listener_gap_rows(PUBLIC_PORTS, gaps["ours"], gaps["baseline"])
    return [
        Section(
            title="1. Rollback",
            text=(
                f"Both colors run Ready pods (two deploys first). Then, {runs} times each, "
                "alternating so that every run flips the live color: `bluegreen rollback` "
                "and the baseline `bench/baseline/oops-rollback`, each started from a shell "
                "(`bash -c`) and timed as a whole process. The baseline does what the seed's "
                "`oops-rollback` did, one `aws` process per call: `describe-tags` twice and "
                "`describe-load-balancers` (each through `jq`), delete listener 80, delete "
                "443, create 80, create 443 with the certificate, `configure-health-check`. "
                "`bluegreen rollback` also checks that every replica of the color it goes "
                "back to is Ready and that no deploy holds the lock (the baseline checks "
                "nothing): that check runs in a child process (`bluegreen readiness`) which "
                "imports the Kubernetes client while the parent reads the load balancer. "
                "`bluegreen rollback --force` skips it, as the seed did. The last two rows "
                "come from the emulated AWS's request log: from each listener's delete "
                "request arriving to its create request arriving, i.e. how long that port "
                "had no listener, "
                "measured without the observer of 2."
            ),
            tables=[Table(COMPARISON_HEADERS, rows)],
            goals=[
                faster_by(
                    f"`bluegreen rollback` at least {GOAL_FACTOR:.0f}x faster than `oops-rollback`",
                    ours,
                    baseline,
                    GOAL_FACTOR,
                )
            ],
        )
    ]
