"""Readiness of workloads, read from their status: pure functions over API objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluegreen_hooks.pod_trouble import pod_trouble

Object = dict[str, Any]


@dataclass(frozen=True)
class Readiness:
    """How many replicas of a color's workloads are Ready, out of how many wanted.

    `failed` says why a rollout will not finish by itself (a Deployment's progress deadline
    exceeded), so waiting longer is pointless.
    """

    ready: int
    desired: int
    settled: bool
    failed: str = ""

    @property
    def complete(self) -> bool:
        return self.settled and self.desired > 0 and self.ready >= self.desired and not self.failed


def workload_readiness(obj: Object) -> Readiness:
    """Whether a workload is fully rolled out, decided as `kubectl rollout status` does.

    Deployment: the controller saw the latest spec (observedGeneration), the progress deadline
    was not exceeded, every replica runs the new template (updatedReplicas), no old replica is
    left (replicas == updatedReplicas), and every updated replica is available (Ready for
    minReadySeconds). ReplicationController (which `rollout status` does not cover): the latest
    spec observed, exactly the desired number of replicas, all of them available.
    """
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    metadata = obj.get("metadata") or {}
    desired = int(spec.get("replicas", 1))
    observed = int(status.get("observedGeneration") or 0) >= int(metadata.get("generation") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    deleting = bool(metadata.get("deletionTimestamp"))
    if obj.get("kind") == "Deployment":
        updated = int(status.get("updatedReplicas") or 0)
        # Settled once every pod runs the new template, so that a later drop in `ready` is a
        # pod turning unready, not the rollout retiring old ones; a surge beyond `replicas`
        # must be available too before the count reaches `desired` (kubectl's
        # availableReplicas >= updatedReplicas).
        return Readiness(
            ready=max(0, min(available, updated) - max(0, updated - desired)),
            desired=desired,
            settled=observed and not deleting and updated >= desired and replicas <= updated,
            failed=_deadline_exceeded(obj),
        )
    ready = min(int(status.get("readyReplicas") or 0), available)
    return Readiness(
        ready=ready, desired=desired, settled=observed and not deleting and replicas == desired
    )


def _deadline_exceeded(deployment: Object) -> str:
    """The Progressing condition's message once the progress deadline passed, else ''."""
    metadata, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        return ""  # the condition is about an older spec
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return str(condition.get("message") or "ProgressDeadlineExceeded")
    return ""


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
