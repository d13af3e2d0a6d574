"""`alarms` gates: CloudWatch alarms that must stay out of ALARM for `watch` seconds.

An alarm that goes into ALARM fails the gate at once; one that does not exist fails it too
(a misspelt name would otherwise watch nothing). INSUFFICIENT_DATA is not ALARM.
"""

from __future__ import annotations

import time
from typing import Any

from bluegreen_hooks.gates.context import GateContext
from bluegreen_hooks.gates.report import Attempts, GateResult
from bluegreen_hooks.gates.spec import AlarmsGate

MAX_NAMES_PER_CALL = 100  # DescribeAlarms' limit on AlarmNames


def check(gate: AlarmsGate, ctx: GateContext) -> GateResult:
    started = time.monotonic()
    deadline = started + gate.watch
    client = _client(ctx)
    attempts = Attempts(gate.describe())
    while True:
        alarms = _describe(client, gate.names)
        missing = [name for name in gate.names if name not in alarms]
        firing = [alarm for alarm in alarms.values() if alarm.get("StateValue") == "ALARM"]
        outcome = _outcome(alarms, missing, firing)
        attempts.add(outcome)
        if missing or firing:
            return attempts.result(
                gate.kind,
                False,
                outcome + f" (after {time.monotonic() - started:.1f} s of {gate.watch:g})",
                started,
            )
        if time.monotonic() + gate.interval > deadline:
            return attempts.result(
                gate.kind,
                True,
                f"{len(alarms)} alarms out of ALARM for {gate.watch:g} s"
                f" ({len(attempts)} checks: {attempts.summary()})",
                started,
            )
        time.sleep(min(gate.interval, max(deadline - time.monotonic(), 0)))


def _client(ctx: GateContext) -> Any:
    from bluegreen_hooks.aws_clients import make_client

    return make_client("cloudwatch", ctx.config.region)


def _describe(client: Any, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Metric and composite alarms by name."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), MAX_NAMES_PER_CALL):
        chunk = list(names[start : start + MAX_NAMES_PER_CALL])
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "AlarmNames": chunk,
                "AlarmTypes": ["CompositeAlarm", "MetricAlarm"],
                "MaxRecords": 100,
            }
            if token:
                kwargs["NextToken"] = token
            page = client.describe_alarms(**kwargs)
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                found[alarm["AlarmName"]] = alarm
            token = page.get("NextToken")
            if not token:
                break
    return found


def _outcome(
    alarms: dict[str, dict[str, Any]], missing: list[str], firing: list[dict[str, Any]]
) -> str:
    if missing:
        return f"no such alarm: {', '.join(missing[:5])}"
    if firing:
        return "; ".join(
            f"{alarm['AlarmName']} in ALARM"
            + (f" ({str(alarm['StateReason'])[:200]})" if alarm.get("StateReason") else "")
            for alarm in firing[:5]
        )
    states = sorted({str(alarm.get("StateValue")) for alarm in alarms.values()})
    return f"{len(alarms)} alarms {'/'.join(states)}"
