"""`bluegreen verify`: run the gates by hand against the live or the idle color, touching nothing.

Without options: the after-switch gates on the live color. `--color` the idle one: its
before-switch checks (the structural check, then the gates). Every check runs (none stops
the others) and each one's result is printed; exit 0 when all pass, 1 when any fails.
"""

from __future__ import annotations

import argparse
import json

from bluegreen_hooks import gates, lifecycle, logs
from bluegreen_hooks.colors import Color, parse_color
from bluegreen_hooks.commands.common import config_from, new_deployment_id
from bluegreen_hooks.gates.report import GateReport
from bluegreen_hooks.gates.spec import Phase
from bluegreen_hooks.routers.base import RouterState


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    verify_run = lifecycle.Run(config=config, deployment_id=new_deployment_id("verify"))
    router = verify_run.router()
    color, phase = choose(router, args.color, args.phase)
    commit = router.commits.get(color)
    logs.bind(color=color, commit=commit)
    verify_run.step("verify")
    report = gates.run_phase(
        verify_run, phase, color, ports=router.ports, commit=commit, keep_going=True
    )
    role = "live" if color == router.active else "idle"
    if args.output == "json":
        document = {"application": config.application_name, "role": role, "commit": commit}
        print(json.dumps({**document, **report.to_json()}, indent=2))
    else:
        print(describe(config.application_name, report, role, commit))
    return 0 if report.passed else 1


def choose(router: RouterState, color: str | None, phase: str | None) -> tuple[Color, Phase]:
    """The color (default: live, or idle for before-switch) and the phase (default: before-switch
    for the idle color, after-switch for the live one)."""
    if color is None:
        chosen: Color = router.idle if phase == "before-switch" else router.active
    else:
        chosen = parse_color(color)
    if phase is None:
        return chosen, "before-switch" if chosen == router.idle else "after-switch"
    return chosen, "before-switch" if phase == "before-switch" else "after-switch"


def describe(application: str, report: GateReport, role: str, commit: str | None) -> str:
    lines = [
        f"{application}: {report.phase} gates on {report.color} ({role}, port {report.port},"
        f" commit {commit or 'unknown'})"
    ]
    if not report.results:
        lines.append("  no gates configured for this phase")
    for result in report.results:
        mark = "pass" if result.passed else "FAIL"
        lines.append(f"  {mark}  {result.gate}: {result.summary}")
        lines += [f"        | {line}" for line in result.output]
    return "\n".join(lines)
