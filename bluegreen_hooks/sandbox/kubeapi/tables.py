"""Server-side Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).

kubectl asks for Tables and prints their columns as they come; the columns and cells here
follow the real server's printers for the kinds the emulator serves, so `kubectl get pods`
shows READY, STATUS and RESTARTS. Kinds without a printer get NAME and AGE, as the real
server gives custom resources.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority (1: shown only with -o wide)
Printer = tuple[list[Column], Callable[[Obj, float], list[Any]]]


def wants_table(accept: str | None) -> bool:
    """Whether an Accept header asks for a meta.k8s.io Table (before any plain type)."""
    for media_range in (accept or "").split(","):
        params = dict(
            part.strip().split("=", 1) for part in media_range.split(";")[1:] if "=" in part
        )
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v") in ("v1", "v1beta1")
        if media_range.strip().split(";")[0] in ("application/json", "*/*"):
            return False
    return False


def table(
    plural: str,
    body: Obj,
    include_object: str = "",
    now: float | None = None,
    headers: bool = True,
) -> Obj:
    """The Table for a GET answer: `body` is a list or a single object of resource `plural`."""
    columns, cells = _PRINTERS.get(plural, _DEFAULT)
    listing = "items" in body
    items = body["items"] if listing else [body]
    clock = time.time() if now is None else now
    rows = [_row(item, cells, include_object, clock) for item in items]
    metadata: Obj = {}
    if listing:
        metadata = {k: v for k, v in body.get("metadata", {}).items() if k != "selfLink"}
    else:
        metadata = {"resourceVersion": body["metadata"].get("resourceVersion", "")}
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": _DESCRIPTIONS.get(name, name),
                "priority": priority,
            }
            for name, kind, priority in (columns if headers else [])
        ],
        "rows": rows,
    }


def table_events(plural: str, events: Iterator[Obj], include_object: str = "") -> Iterator[Obj]:
    """Watch events whose objects are one-row Tables; only the first carries the columns."""
    headers = True
    for event in events:
        if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
            event = {
                **event,
                "object": table(plural, event["object"], include_object, headers=headers),
            }
            headers = False
        yield event


def _row(
    obj: Obj, cells: Callable[[Obj, float], list[Any]], include_object: str, now: float
) -> Obj:
    row: Obj = {"cells": cells(obj, now)}
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return row


# ---------------------------------------------------------------- shared cells


def human_duration(seconds: float) -> str:
    """kubectl's short age: 42s, 5m3s, 3h10m, 2d4h, ... (apimachinery's HumanDuration)."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _since(timestamp: Any, now: float) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        parsed = calendar.timegm(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "<unknown>"
    return human_duration(now - parsed)


def _age(obj: Obj, now: float) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"), now)


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _status(obj: Obj) -> Obj:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _map_selector(selector: Any) -> str:
    if not isinstance(selector, dict) or not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _label_selector(selector: Any) -> str:
    if not isinstance(selector, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(expression.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})"}.get(
                operator, key if operator == "Exists" else f"!{key}"
            )
        )
    return ",".join(parts) or "<none>"


def _containers(spec: Obj) -> tuple[str, str]:
    template = spec.get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )


# ---------------------------------------------------------------- per kind


def _pod(pod: Obj, now: float) -> list[Any]:
    spec, status = _spec(pod), _status(pod)
    reason = status.get("reason") or status.get("phase") or ""
    restarts, ready, running = 0, 0, False
    last_restart = ""
    for container in reversed(status.get("containerStatuses") or []):
        restarts += int(container.get("restartCount") or 0)
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished and finished > last_restart:
            last_restart = finished
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            signal = terminated.get("signal")
            reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"
        elif container.get("ready") and state.get("running") is not None:
            running = True
            ready += 1
    if reason == "Completed" and running:
        ready_condition = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        reason = "Running" if ready_condition else "NotReady"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({_since(last_restart, now)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    return [
        _name(pod),
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restarts_cell,
        _age(pod, now),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _service(service: Obj, now: float) -> list[Any]:
    spec = _spec(service)
    kind = spec.get("type") or "ClusterIP"
    external = ",".join(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = (_status(service).get("loadBalancer") or {}).get("ingress") or []
        addresses = [i.get("ip") or i.get("hostname") or "" for i in ingress]
        external = ",".join(filter(None, [external, *addresses])) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName") or ""
    ports = [
        str(p.get("port"))
        + (f":{p['nodePort']}" if p.get("nodePort") else "")
        + f"/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    ]
    return [
        _name(service),
        kind,
        spec.get("clusterIP") or "<none>",
        external or "<none>",
        ",".join(ports) or "<none>",
        _age(service, now),
        _map_selector(spec.get("selector")),
    ]


def _deployment(deployment: Obj, now: float) -> list[Any]:
    spec, status = _spec(deployment), _status(deployment)
    names, images = _containers(spec)
    return [
        _name(deployment),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        _age(deployment, now),
        names,
        images,
        _label_selector(spec.get("selector")),
    ]


def _replica_set(workload: Obj, now: float) -> list[Any]:
    spec, status = _spec(workload), _status(workload)
    names, images = _containers(spec)
    selector = spec.get("selector")
    is_label_selector = isinstance(selector, dict) and (
        "matchLabels" in selector or "matchExpressions" in selector
    )
    return [
        _name(workload),
        int(spec.get("replicas") or 0),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        _age(workload, now),
        names,
        images,
        _label_selector(selector) if is_label_selector else _map_selector(selector),
    ]


def _lease(lease: Obj, now: float) -> list[Any]:
    return [_name(lease), _spec(lease).get("holderIdentity") or "", _age(lease, now)]


def _namespace(namespace: Obj, now: float) -> list[Any]:
    return [_name(namespace), _status(namespace).get("phase", ""), _age(namespace, now)]


def _node(node: Obj, now: float) -> list[Any]:
    status, labels = _status(node), node.get("metadata", {}).get("labels") or {}
    ready = next(
        (c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"),
        None,
    )
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if _spec(node).get("unschedulable"):
        state += ",SchedulingDisabled"
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k.removeprefix(prefix) for k in labels if k.startswith(prefix))
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [
        _name(node),
        state,
        ",".join(roles) or "<none>",
        _age(node, now),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP") or "<none>",
        addresses.get("ExternalIP") or "<none>",
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _endpoints(endpoints: Obj, now: float) -> list[Any]:
    pairs = [
        f"{address.get('ip')}:{port.get('port')}"
        for subset in endpoints.get("subsets") or []
        for address in subset.get("addresses") or []
        for port in subset.get("ports") or [{}]
    ]
    shown = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return [_name(endpoints), shown or "<none>", _age(endpoints, now)]


_AGE: Column = ("Age", "string", 0)
_WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
]
_PRINTERS: dict[str, Printer] = {
    "pods": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            _AGE,
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        _pod,
    ),
    "services": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            _AGE,
            ("Selector", "string", 1),
        ],
        _service,
    ),
    "deployments": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            _AGE,
            *_WORKLOAD_WIDE,
        ],
        _deployment,
    ),
    "leases": ([("Name", "string", 0), ("Holder", "string", 0), _AGE], _lease),
    "namespaces": ([("Name", "string", 0), ("Status", "string", 0), _AGE], _namespace),
    "nodes": (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            _AGE,
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        _node,
    ),
    "endpoints": ([("Name", "string", 0), ("Endpoints", "string", 0), _AGE], _endpoints),
}
for _plural in ("replicationcontrollers", "replicasets"):
    _PRINTERS[_plural] = (
        [
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            _AGE,
            *_WORKLOAD_WIDE,
        ],
        _replica_set,
    )
_DEFAULT: Printer = ([("Name", "string", 0), _AGE], lambda obj, now: [_name(obj), _age(obj, now)])
_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace.",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was "
    "created.",
}
