"""The structural check before the switch, needing no configuration: the color's Service
exposes the expected NodePort, and its ready endpoints are exactly the new release's Ready pods.

It catches what readiness alone misses: a Service whose selector matches the old release's
pods too (or instead), one that selects nothing, or one whose targetPort no container declares.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bluegreen_hooks import logs
from bluegreen_hooks.gates.context import GateContext
from bluegreen_hooks.gates.report import GateResult
from bluegreen_hooks.templates import LABEL_APPLICATION, LABEL_COLOR, LABEL_COMMIT

GATE = "structure"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# EndpointSlices follow pod readiness a moment later on a real cluster: a Ready pod not yet
# routed to (or a deleted one still listed) gets this long to settle; what waiting cannot fix
# (no Service, a Ready pod of another release routed to, an undeclared targetPort) fails at once.
SETTLE_SECONDS = 30.0
SETTLE_INTERVAL = 0.5

Object = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    text: str
    lasting: bool  # waiting will not fix it


def check(ctx: GateContext) -> GateResult:
    started = time.monotonic()
    deadline = started + SETTLE_SECONDS
    waiting = False
    while True:
        problems = _problems(ctx)
        if not problems:
            return GateResult(
                GATE,
                GATE,
                True,
                f"Service on NodePort {ctx.port} routes to exactly the release's Ready pods",
                seconds=time.monotonic() - started,
            )
        lasting = any(problem.lasting for problem in problems)
        if lasting or time.monotonic() + SETTLE_INTERVAL > deadline:
            summary = "; ".join(problem.text for problem in problems)
            if not lasting:
                summary += f" (still after {SETTLE_SECONDS:g} s)"
            return GateResult(GATE, GATE, False, summary, seconds=time.monotonic() - started)
        if not waiting:
            logs.get_logger().info("waiting for the Service's endpoints", problem=problems[0].text)
            waiting = True
        time.sleep(SETTLE_INTERVAL)


def _problems(ctx: GateContext) -> list[Problem]:
    cluster = ctx.cluster()
    namespace = f"/api/v1/namespaces/{cluster.namespace}"
    application = ctx.config.application_name
    color_selector = f"{LABEL_APPLICATION}={application},{LABEL_COLOR}={ctx.color}"
    services = cluster.rest.get(f"{namespace}/services", labelSelector=color_selector)
    exposing = [s for s in services.get("items") or [] if _node_port_entry(s, ctx.port)]
    if not exposing:
        found = [
            f"{s['metadata']['name']} ({_node_ports(s) or 'no NodePort'})"
            for s in services.get("items") or []
        ]
        text = f"no Service of {ctx.color} exposes NodePort {ctx.port}"
        return [
            Problem(
                text + (f" (found {', '.join(found)})" if found else " (it has no Service)"), True
            )
        ]
    release_selector = color_selector + (f",{LABEL_COMMIT}={ctx.commit}" if ctx.commit else "")
    pods = cluster.rest.get(f"{namespace}/pods", labelSelector=release_selector)
    ready = {p["metadata"]["name"]: p for p in pods.get("items") or [] if _is_ready(p)}
    if not ready:
        return [Problem(f"no Ready pod of {_release(ctx)}", True)]
    problems: list[Problem] = []
    for service in exposing:
        problems += _service_problems(ctx, service, ready)
    return problems


def _service_problems(ctx: GateContext, service: Object, ready: dict[str, Object]) -> list[Problem]:
    cluster = ctx.cluster()
    name = service["metadata"]["name"]
    slices = cluster.rest.get(
        f"/apis/discovery.k8s.io/v1/namespaces/{cluster.namespace}/endpointslices",
        labelSelector=f"{SERVICE_NAME_LABEL}={name}",
    )
    routed = _ready_endpoint_pods(slices.get("items") or [])
    problems: list[Problem] = []
    strangers = sorted(set(routed) - set(ready))
    if strangers:
        described, live = _strangers(ctx, strangers)
        problems.append(
            Problem(
                f"Service {name} routes to {len(strangers)} pod(s) not of {_release(ctx)}:"
                f" {described} (does its selector name the color, as the template's labels do?)",
                lasting=live,
            )
        )
    unrouted = sorted(set(ready) - set(routed))
    if unrouted:
        problems.append(
            Problem(
                f"Service {name} does not route to {len(unrouted)} of the release's"
                f" {len(ready)} Ready pods ({', '.join(unrouted[:3])}"
                f"{', ...' if len(unrouted) > 3 else ''}): check its selector and targetPort",
                lasting=False,
            )
        )
    target = _target_port(service, ctx.port)
    declared = _declared_ports(next(iter(ready.values())))
    if target is not None and declared and not _declares(declared, target):
        numbers = sorted({str(n) for n, _ in declared})
        problems.append(
            Problem(
                f"Service {name} sends NodePort {ctx.port} to targetPort {target}, which no"
                f" container of the release declares (containerPorts {', '.join(numbers)})",
                lasting=True,
            )
        )
    return problems


def _release(ctx: GateContext) -> str:
    return f"{ctx.color}'s release" + (f" {ctx.commit}" if ctx.commit else "")


def _node_port_entry(service: Object, port: int) -> Object | None:
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("nodePort") == port:
            return dict(entry)
    return None


def _node_ports(service: Object) -> str:
    entries = (service.get("spec") or {}).get("ports") or []
    ports = [str(p["nodePort"]) for p in entries if p.get("nodePort")]
    return "NodePort " + ", ".join(ports) if ports else ""


def _target_port(service: Object, port: int) -> int | str | None:
    entry = _node_port_entry(service, port) or {}
    target = entry.get("targetPort", entry.get("port"))
    return target if isinstance(target, int | str) else None


def _is_ready(pod: Object) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _ready_endpoint_pods(slices: list[Object]) -> dict[str, Object]:
    """Pods behind the slices' ready endpoints, by name (a nil `ready` means ready)."""
    pods: dict[str, Object] = {}
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            ref = endpoint.get("targetRef") or {}
            if ref.get("kind", "Pod") == "Pod" and ref.get("name"):
                pods[str(ref["name"])] = endpoint
    return pods


def _declared_ports(pod: Object) -> list[tuple[int, str | None]]:
    return [
        (int(port["containerPort"]), port.get("name"))
        for container in (pod.get("spec") or {}).get("containers") or []
        for port in container.get("ports") or []
        if "containerPort" in port
    ]


def _declares(declared: list[tuple[int, str | None]], target: int | str) -> bool:
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target) in {number for number, _ in declared}
    return target in {name for _, name in declared}


def _strangers(ctx: GateContext, names: list[str]) -> tuple[str, bool]:
    """`app-blue-x1 (blue, commit 1111111), ...`, and whether any of them is a live Ready pod
    of the application (then waiting will not take it out of the Service)."""
    cluster = ctx.cluster()
    pods = cluster.rest.get(
        f"/api/v1/namespaces/{cluster.namespace}/pods",
        labelSelector=f"{LABEL_APPLICATION}={ctx.config.application_name}",
    )
    found = {p["metadata"]["name"]: p for p in pods.get("items") or []}
    shown = []
    for name in names[:3]:
        if name not in found:
            shown.append(f"{name} (gone, or not of this application)")
            continue
        labels = found[name]["metadata"].get("labels") or {}
        commit = labels.get(LABEL_COMMIT)
        color = labels.get(LABEL_COLOR, "no color")
        shown.append(f"{name} ({color}" + (f", commit {commit[:7]})" if commit else ")"))
    live = any(name in found and _is_ready(found[name]) for name in names)
    return ", ".join(shown) + (", ..." if len(names) > 3 else ""), live
