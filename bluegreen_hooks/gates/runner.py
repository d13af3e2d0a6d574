"""Run one phase's gates against one color and report what each saw.

Before the switch, the structural check comes first; then the config's gates in order. A
gate that cannot even ask (AWS or Kubernetes refuses, the network is down) fails with what
was refused, like a gate that got a bad answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bluegreen_hooks import logs
from bluegreen_hooks.colors import Color, Ports
from bluegreen_hooks.errors import BluegreenError
from bluegreen_hooks.gates import alarms, command, elb_health, http, structural
from bluegreen_hooks.gates.context import GateContext
from bluegreen_hooks.gates.report import GateReport, GateResult
from bluegreen_hooks.gates.spec import (
    AlarmsGate,
    CommandGate,
    ElbHealthGate,
    Gate,
    HttpGate,
    Phase,
)

if TYPE_CHECKING:
    from bluegreen_hooks.lifecycle import Run


def run_phase(
    run: Run,
    phase: Phase,
    color: Color,
    *,
    ports: Ports | None = None,
    commit: str | None = None,
    keep_going: bool = False,
) -> GateReport:
    """The phase's checks against `color`; stops at the first failure unless `keep_going`.

    Without `ports`, reads the router for them (and for the color's commit if none is given).
    """
    if ports is None:
        router = run.router()
        ports = router.ports
        commit = commit or router.commits.get(color)
    context = GateContext(
        config=run.config,
        phase=phase,
        color=color,
        ports=ports,
        commit=commit,
        deployment_id=run.deployment_id,
        workdir=(run.bundle_root or run.config.path.parent).resolve(),
        cluster=lambda: run.cluster,
    )
    checks: list[tuple[str, str, Callable[[], GateResult]]] = []
    if phase == "before-switch":
        checks.append((structural.GATE, structural.GATE, lambda: structural.check(context)))
    for gate in run.config.gates.of(phase):
        checks.append((gate.describe(), gate.kind, _checker(gate, context)))
    log = logs.get_logger()
    results: list[GateResult] = []
    for name, kind, check in checks:
        result = _guarded(name, kind, check)
        results.append(result)
        if result.passed:
            log.info("gate passed", gate=name, phase=phase, color=color, result=result.summary)
        else:
            log.error("gate failed", gate=name, phase=phase, color=color, result=result.summary)
            if not keep_going:
                break
    return GateReport(phase=phase, color=color, port=ports.of(color), results=tuple(results))


def _checker(gate: Gate, context: GateContext) -> Callable[[], GateResult]:
    if isinstance(gate, HttpGate):
        return lambda: http.check(gate, context)
    if isinstance(gate, CommandGate):
        return lambda: command.check(gate, context)
    if isinstance(gate, ElbHealthGate):
        return lambda: elb_health.check(gate, context)
    if isinstance(gate, AlarmsGate):
        return lambda: alarms.check(gate, context)
    raise TypeError(f"not a gate: {gate!r}")


def _guarded(name: str, kind: str, check: Callable[[], GateResult]) -> GateResult:
    started = time.monotonic()
    try:
        return check()
    except BluegreenError as exc:
        problem = exc.message + (f" (fix: {exc.hint})" if exc.hint else "")
    except Exception as exc:
        refused = _refusal(exc)
        if refused is None:
            raise
        problem = refused
    return GateResult(
        name, kind, False, f"could not check: {problem}", seconds=time.monotonic() - started
    )


def _refusal(exc: Exception) -> str | None:
    """An AWS or Kubernetes error as one line; None for anything else (a bug)."""
    module = type(exc).__module__
    if module.startswith(("botocore", "boto3")):
        return f"AWS: {exc}"
    if module.startswith(("kubernetes", "urllib3")):
        from bluegreen_hooks.kube import describe_api_error

        status = getattr(exc, "status", None)
        return "Kubernetes: " + (describe_api_error(exc) if status is not None else str(exc))  # type: ignore[arg-type]
    return None
