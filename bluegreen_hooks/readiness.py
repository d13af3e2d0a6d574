"""Readiness of workloads, read from their status: pure functions over API objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Readiness:
    """How many replicas of a color's workloads are Ready, out of how many wanted."""

    ready: int
    desired: int
    settled: bool

    @property
    def complete(self) -> bool:
        return self.settled and self.desired > 0 and self.ready >= self.desired


def workload_readiness(obj: Object) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    metadata = obj.get("metadata") or {}
    desired = spec.get("replicas", 1)
    settled = (
        status.get("observedGeneration", 0) >= metadata.get("generation", 0)
        and status.get("replicas", 0) == desired
        and not metadata.get("deletionTimestamp")
    )
    if obj.get("kind") == "Deployment":
        settled = settled and status.get("updatedReplicas", 0) == desired
    return Readiness(ready=status.get("readyReplicas") or 0, desired=desired, settled=settled)


def worth_showing(now: Readiness, shown: Readiness | None) -> bool:
    """Progress lines for every tenth of the replicas (each one, for small workloads)."""
    if shown is None or now.complete:
        return now != shown
    step = max(1, now.desired // 10)
    return now.desired != shown.desired or abs(now.ready - shown.ready) >= step


def pod_reason(pod: Object) -> str:
    status = pod.get("status") or {}
    if any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    ):
        return ""
    name = pod.get("metadata", {}).get("name", "?")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return f"pod {name}: {waiting['reason']} {waiting.get('message', '')}".strip()
    return f"pod {name}: {status.get('phase', 'Pending')}, not Ready"
