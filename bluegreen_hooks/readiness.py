"""Readiness of workloads, read from their status: pure functions over API objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluegreen_hooks.pod_trouble import pod_trouble

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
    """Why the pod is not Ready, e.g. `pod x: ImagePullBackOff: Back-off pulling image "..."`;
    "" when it is Ready."""
    trouble = pod_trouble(pod)
    return trouble.describe() if trouble else ""
