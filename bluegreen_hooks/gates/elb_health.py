"""`elb-health` gates: every instance registered with the Classic ELB InService, within a time.

The ELB's own health check (aimed at the live color's port by the switch) decides InService,
so after the switch this says whether the load balancer itself finds the new color healthy.
"""

from __future__ import annotations

import time
from typing import Any

from bluegreen_hooks.gates.context import GateContext
from bluegreen_hooks.gates.report import Attempts, GateResult
from bluegreen_hooks.gates.spec import ElbHealthGate


def check(gate: ElbHealthGate, ctx: GateContext) -> GateResult:
    started = time.monotonic()
    deadline = started + gate.timeout
    attempts = Attempts(gate.describe())
    client = _client(ctx)
    while True:
        states = _instance_states(client, ctx.config.elb_name)
        outcome = _outcome(states)
        attempts.add(outcome)
        if states and all(s["State"] == "InService" for s in states):
            return attempts.result(
                gate.kind,
                True,
                f"{len(states)}/{len(states)} instances InService",
                started,
            )
        if time.monotonic() + gate.interval >= deadline:
            return attempts.result(
                gate.kind,
                False,
                f"load balancer {ctx.config.elb_name}: not every instance InService within"
                f" {gate.timeout:g} s; {len(attempts)} checks: {attempts.summary()}",
                started,
            )
        time.sleep(gate.interval)


def _client(ctx: GateContext) -> Any:
    from bluegreen_hooks.aws_clients import make_client

    return make_client("elb", ctx.config.region)


def _instance_states(client: Any, elb_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.describe_instance_health(LoadBalancerName=elb_name)[
        "InstanceStates"
    ]
    return found


def _outcome(states: list[dict[str, Any]]) -> str:
    """`1/2 InService (i-0abc OutOfService: Instance has failed ...)`, or no instances."""
    if not states:
        return "no instances registered"
    healthy = sum(1 for s in states if s["State"] == "InService")
    sick = [
        f"{s.get('InstanceId', '?')} {s['State']}"
        + (f": {s['Description']}" if s.get("Description") not in (None, "", "N/A") else "")
        for s in states
        if s["State"] != "InService"
    ]
    shown = "; ".join(sick[:3]) + ("; ..." if len(sick) > 3 else "")
    return f"{healthy}/{len(states)} InService" + (f" ({shown})" if sick else "")
