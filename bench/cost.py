"""How cost grows: deploy time and Kubernetes and AWS requests for 1, 10 and 100 replicas."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from bench.report import Goal, Section, Table, count, seconds, spread
from bench.stats import Summary, summarize
from bench.timeline import detection_latency
from bench.world import App, World

# (replicas, seconds until a pod is Ready): three sizes, and one size waiting five times longer
CASES = ((1, 1.0), (10, 1.0), (100, 1.0), (10, 5.0))
WAITING = ((10, 1.0), (10, 5.0))  # the pair showing requests do not grow with waiting


@dataclass(frozen=True)
class Case:
    replicas: int
    ready_delay: float
    wall: Summary
    overhead: Summary  # wall time less the wait until Ready
    detection: Summary  # last pod Ready to first listener change
    kube: Summary
    aws: Summary
    kube_verbs: dict[str, int]  # of the median run
    aws_actions: dict[str, int]


def measure(world: World, runs: int) -> list[Section]:
    cases = [_case(world, replicas, delay, runs) for replicas, delay in CASES]
    rows = [
        [
            str(case.replicas),
            seconds(case.ready_delay),
            spread(case.wall),
            spread(case.overhead),
            spread(case.detection),
            spread(case.kube, count),
            _tally(case.kube_verbs),
            spread(case.aws, count),
        ]
        for case in cases
    ]
    actions = _tally(cases[0].aws_actions)
    by_key = {(c.replicas, c.ready_delay): c for c in cases}
    short, long = (by_key[key] for key in WAITING)
    flat = long.kube.median <= short.kube.median and long.aws.median <= short.aws.median
    goal = Goal(
        f"requests do not grow with waiting ({short.replicas} replicas, "
        f"{short.ready_delay:.0f} s vs {long.ready_delay:.0f} s until Ready)",
        f"Kubernetes {count(short.kube.median)} vs {count(long.kube.median)}, "
        f"AWS {count(short.aws.median)} vs {count(long.aws.median)}",
        flat,
    )
    return [
        Section(
            title="5. How cost grows",
            text=(
                f"`bluegreen deploy`, {runs} times per case, each case its own application "
                "and ELB with both colors deployed first; the emulators count every request "
                "they serve during the deploy (a watch counts once, however long it streams). "
                "Requests should grow with the number of objects and listeners, not with the "
                "number of pods or the time spent waiting."
            ),
            tables=[
                Table(
                    (
                        "replicas",
                        "until Ready",
                        "deploy wall time",
                        "less the wait",
                        "last pod Ready to first listener change",
                        "Kubernetes requests",
                        "by verb (median run)",
                        "AWS requests",
                    ),
                    rows,
                )
            ],
            notes=[
                "The emulated Kubernetes creates, deletes and marks Ready every pod in "
                "Python on the same two cores as the tool and the benchmark, so the time "
                "less the wait also carries the emulator's own work per pod; the request "
                "counts are the tool's alone.",
                f"AWS requests of a deploy (median run of the first case): {actions}.",
                "The baseline (seed's flow) makes 8 `aws` calls per deploy, each a process "
                "of its own (3 reads, 4 listener calls, the health check), and one "
                "Kubernetes list every 10 s while it waits: its requests grow with the "
                "waiting time, one more per 10 s.",
            ],
            goals=[goal],
        )
    ]


@dataclass(frozen=True)
class Sample:
    """One deploy: wall time, requests served by each emulator, readiness detection."""

    seconds: float
    kube: int
    aws: int
    kube_verbs: dict[str, int]
    aws_actions: dict[str, int]
    detection: float


def _case(world: World, replicas: int, delay: float, runs: int) -> Case:
    app = world.app(f"bench-cost-{replicas}x-{delay:.0f}s", replicas=replicas)
    world.prepare_both_colors(app)
    samples = []
    with world.ready_delay(delay):
        for run in range(runs):
            samples.append(_sample(world, app))
            print(
                f"bench: cost {replicas} replicas, {delay:.0f} s until Ready, "
                f"{run + 1}/{runs}: {samples[-1].seconds:.2f} s, {samples[-1].kube} Kubernetes "
                f"and {samples[-1].aws} AWS requests",
                file=sys.stderr,
            )
    world.remove(app)
    median_run = sorted(samples, key=lambda s: s.kube)[len(samples) // 2]
    return Case(
        replicas=replicas,
        ready_delay=delay,
        wall=summarize([s.seconds for s in samples]),
        overhead=summarize([s.seconds - delay for s in samples]),
        detection=summarize([s.detection for s in samples]),
        kube=summarize([s.kube for s in samples]),
        aws=summarize([s.aws for s in samples]),
        kube_verbs=median_run.kube_verbs,
        aws_actions=median_run.aws_actions,
    )


def _sample(world: World, app: App) -> Sample:
    aws, kube = world.sandbox.aws, world.sandbox.kube
    target = world.idle_color(app)
    aws.reset_counters()
    kube.reset_counters()
    kube.clear_ready_events()
    commit = world.commit()
    timed = world.deploy(app, commit)
    events = [(e.time, e.labels) for e in kube.ready_events]
    sample = Sample(
        seconds=timed.seconds,
        kube=kube.request_count,
        aws=aws.request_count,
        kube_verbs=kube.requests_by_verb,
        aws_actions=dict(aws.requests_by_action),
        detection=detection_latency(events, list(aws.request_log), target, commit),
    )
    world.expect_live(app, target, after="deploy")
    return sample


def _tally(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in Counter(counts).most_common())
