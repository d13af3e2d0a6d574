"""Readiness detection and deploy overhead: from the last pod Ready to the first listener change."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from bench.report import COMPARISON_HEADERS, Section, Table, at_most, comparison_row
from bench.stats import summarize
from bench.timeline import detection_latency
from bench.world import App, BenchError, World

READY_DELAY = 3.0  # seconds from pod creation to Ready: inside the baseline's first 10 s sleep
LATENCY_GOAL = 0.3
OVERHEAD_GOAL = 1.5


def measure(world: World, runs: int) -> list[Section]:
    app = world.app("bench-ready")
    world.prepare_both_colors(app)
    latency: dict[str, list[float]] = {"ours": [], "baseline": []}
    overhead: dict[str, list[float]] = {"ours": [], "baseline": []}
    with world.ready_delay(READY_DELAY):
        for run in range(runs):
            for flow in ("ours", "baseline"):
                seconds, found = _one_deploy(world, app, flow, run)
                latency[flow].append(found)
                overhead[flow].append(seconds - READY_DELAY)
            print(
                f"bench: readiness {run + 1}/{runs}: bluegreen {latency['ours'][-1]:.3f} s, "
                f"baseline {latency['baseline'][-1]:.3f} s",
                file=sys.stderr,
            )
    ours, baseline = summarize(latency["ours"]), summarize(latency["baseline"])
    ours_overhead = summarize(overhead["ours"])
    baseline_overhead = summarize(overhead["baseline"])
    deploy_time = summarize([v + READY_DELAY for v in overhead["ours"]])
    baseline_time = summarize([v + READY_DELAY for v in overhead["baseline"]])
    readiness = Section(
        title="3. Readiness detection",
        text=(
            f"{runs} deploys each way of `replicas: {app.replicas}`, alternating, with the "
            f"emulated Kubernetes making every pod Ready {READY_DELAY:.0f} s after it is "
            "created. The interval runs from the moment the emulator marked the last pod of "
            "the new release Ready (its `ReadyEvent`, matched by the pods' color and commit "
            "labels) to the first `DeleteLoadBalancerListeners` request arriving at the "
            "emulated AWS after it. bluegreen: `bluegreen deploy` (it watches the workload). "
            "Baseline: `bench/baseline/oops-deploy`, the seed's flow from its reads on: "
            "replace the new color's workload, then `sleep 10` and check readiness, up to 20 "
            "times, then the listener commands. The seed checked with `kubectl get pod -o "
            "json | jq`; there is no kubectl in the sandbox, so `curl` to the emulated API's "
            "pods endpoint with a `labelSelector`, piped to `jq`, stands in for it (the "
            "workload is replaced the same way, with the Deployment `bluegreen render` "
            "prints, as JSON)."
        ),
        tables=[
            Table(
                COMPARISON_HEADERS,
                [comparison_row("last pod Ready to first listener change", ours, baseline)],
            )
        ],
        notes=[
            f"With the seed's fixed 10 s sleep, the baseline's interval here is about 10 s "
            f"less the {READY_DELAY:.0f} s readiness delay, plus one `aws` process start; "
            "for a release whose pods turn Ready at a random moment it averages 5 s plus "
            "that start, and is up to 10 s.",
        ],
        goals=[
            at_most(
                f"last pod Ready to first listener change at most {LATENCY_GOAL * 1000:.0f} ms",
                ours,
                LATENCY_GOAL,
            )
        ],
    )
    deploy = Section(
        title="4. Deploy overhead",
        text=(
            "From the same runs as 3: the wall time of the whole `bluegreen deploy` process "
            f"(from a shell), and that time less the emulator's {READY_DELAY:.0f} s readiness "
            "delay, i.e. what the tool itself adds: start-up, reads, Service and workload, "
            "the watch, the switch and validation. The baseline's figure is the same "
            "arithmetic on `oops-deploy` (its reads, the workload replacement, the 10 s "
            "poll and the listener commands), as context: the seed's full flow also "
            "re-created Services with kubectl."
        ),
        tables=[
            Table(
                COMPARISON_HEADERS,
                [
                    comparison_row("deploy wall time", deploy_time, baseline_time),
                    comparison_row(
                        f"overhead (wall time - {READY_DELAY:.0f} s)",
                        ours_overhead,
                        baseline_overhead,
                    ),
                ],
            )
        ],
        goals=[
            at_most(
                f"deploy wall time less the readiness delay at most {OVERHEAD_GOAL:.1f} s",
                ours_overhead,
                OVERHEAD_GOAL,
            )
        ],
    )
    return [readiness, deploy]


def _one_deploy(world: World, app: App, flow: str, run: int) -> tuple[float, float]:
    """One deploy to the idle color; returns (wall seconds, readiness detection latency)."""
    target = world.idle_color(app)
    commit = world.commit()
    manifests = _manifests(world, app, commit, run) if flow == "baseline" else None
    world.sandbox.kube.clear_ready_events()
    world.sandbox.aws.reset_counters()
    if manifests is None:
        timed = world.deploy(app, commit)
    else:
        timed = world.baseline("oops-deploy", app.name, world.certificate, app.name, str(manifests))
    world.expect_live(app, target, after=f"{flow} deploy")
    events = [(e.time, e.labels) for e in world.sandbox.kube.ready_events]
    try:
        found = detection_latency(events, list(world.sandbox.aws.request_log), target, commit)
    except ValueError as exc:
        raise BenchError(f"{flow} deploy to {target}: {exc}") from exc
    return timed.seconds, found


def _manifests(world: World, app: App, commit: str, run: int) -> Path:
    """Each color's Deployment for `commit`, as JSON files `blue.json` and `green.json`."""
    folder = world.folder / f"{app.name}-manifests-{run}"
    folder.mkdir()
    for color in ("blue", "green"):
        rendered = world.bluegreen(app, "render", "--commit", commit, "--color", color).stdout
        deployments = [
            doc for doc in yaml.safe_load_all(rendered) if doc and doc.get("kind") == "Deployment"
        ]
        if len(deployments) != 1:
            raise BenchError(f"`bluegreen render` gave {len(deployments)} Deployments")
        (folder / f"{color}.json").write_text(json.dumps(deployments[0]), encoding="utf-8")
    return folder
