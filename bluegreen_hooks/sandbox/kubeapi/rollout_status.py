"""A Deployment's status as the real controller computes it.

`observedGeneration`, and `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas`,
`unavailableReplicas` (zero values omitted) and `terminatingReplicas` summed over its
ReplicaSets; the `Available`
condition; and `Progressing` as syncRolloutStatus sets it: NewReplicaSetCreated,
ReplicaSetUpdated on progress, NewReplicaSetAvailable, or False with ProgressDeadlineExceeded
once no progress was made for `progressDeadlineSeconds` (scaled by `Timing.progress_scale`).
"""

from __future__ import annotations

from typing import Any

from .objects import now_rfc3339
from .timing import Timing

Obj = dict[str, Any]


def status_count(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


class RolloutStatus:
    """Computes Deployment statuses; remembers when each Deployment last progressed."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self._progress_at: dict[str, float] = {}  # Deployment uid -> time.monotonic()

    def compute(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        replica_sets: list[Obj],
        created: bool,
        now: float,
        max_unavailable: int,
    ) -> tuple[Obj, float | None]:
        """The new status (zero counts omitted, like the real one) and when the progress
        deadline would pass, if the rollout is still under way."""
        meta, spec = deployment["metadata"], deployment["spec"]
        desired = int(spec.get("replicas", 1))
        counts = {
            "replicas": sum(status_count(rs, "replicas") for rs in replica_sets),
            "updatedReplicas": status_count(new_rs, "replicas"),
            "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in replica_sets),
            "availableReplicas": sum(status_count(rs, "availableReplicas") for rs in replica_sets),
        }
        counts["unavailableReplicas"] = max(desired - counts["availableReplicas"], 0)
        status: Obj = {"observedGeneration": meta.get("generation", 1)}
        status.update({key: value for key, value in counts.items() if value})
        status["terminatingReplicas"] = sum(  # pods of any of its ReplicaSets shutting down
            status_count(rs, "terminatingReplicas") for rs in replica_sets
        )
        old_status = deployment.get("status") or {}
        conditions = {c.get("type"): c for c in old_status.get("conditions") or []}
        stamp = now_rfc3339()
        available = counts["availableReplicas"] >= desired - max_unavailable
        _set_condition(
            conditions,
            "Available",
            available,
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
            stamp,
        )
        due = self._progress(deployment, new_rs, status, conditions, created, now, stamp)
        status["conditions"] = list(conditions.values())
        return status, due

    def _progress(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        status: Obj,
        conditions: dict[str, Obj],
        created: bool,
        now: float,
        stamp: str,
    ) -> float | None:
        """The Progressing condition, as syncRolloutStatus sets it; returns the deadline."""
        deadline = deployment["spec"].get("progressDeadlineSeconds")
        if not isinstance(deadline, int):
            return None
        uid = deployment["metadata"]["uid"]
        name = (
            f'ReplicaSet "{new_rs["metadata"]["name"]}"'
            if new_rs
            else f'Deployment "{deployment["metadata"]["name"]}"'
        )
        current = conditions.get("Progressing")
        old_status = deployment.get("status") or {}
        desired = int(deployment["spec"].get("replicas", 1))
        if created and new_rs is not None:
            _set_condition(
                conditions,
                "Progressing",
                True,
                "NewReplicaSetCreated",
                f'Created new replica set "{new_rs["metadata"]["name"]}"',
                stamp,
                always=True,
            )
            self._progress_at[uid] = now
            return now + self.timing.progress(deadline)
        if current is None and new_rs is not None:
            _set_condition(
                conditions,
                "Progressing",
                True,
                "FoundNewReplicaSet",
                f'Found new replica set "{new_rs["metadata"]["name"]}"',
                stamp,
                always=True,
            )
            self._progress_at[uid] = now
        complete_before = (
            current is not None
            and current.get("reason") == "NewReplicaSetAvailable"
            and status.get("replicas", 0) == status.get("updatedReplicas", 0)
        )
        if complete_before:
            return None
        if (
            status.get("updatedReplicas", 0) == desired
            and status.get("replicas", 0) == desired
            and status.get("availableReplicas", 0) == desired
        ):
            _set_condition(
                conditions,
                "Progressing",
                True,
                "NewReplicaSetAvailable",
                f"{name} has successfully progressed.",
                stamp,
            )
            return None
        if _progressed(old_status, status):
            _set_condition(
                conditions,
                "Progressing",
                True,
                "ReplicaSetUpdated",
                f"{name} is progressing.",
                stamp,
                always=True,
            )
            self._progress_at[uid] = now
            return now + self.timing.progress(deadline)
        current = conditions.get("Progressing")
        if current is not None and current.get("reason") == "ProgressDeadlineExceeded":
            return None
        since = self._progress_at.setdefault(uid, now)
        if since + self.timing.progress(deadline) <= now:
            _set_condition(
                conditions,
                "Progressing",
                False,
                "ProgressDeadlineExceeded",
                f"{name} has timed out progressing.",
                stamp,
            )
            return None
        return since + self.timing.progress(deadline)


def _progressed(old: Obj, new: Obj) -> bool:
    """DeploymentProgressing: more updated, ready or available replicas, or fewer old ones."""

    def count(status: Obj, key: str) -> int:
        return int(status.get(key) or 0)

    old_old = count(old, "replicas") - count(old, "updatedReplicas")
    new_old = count(new, "replicas") - count(new, "updatedReplicas")
    return (
        count(new, "updatedReplicas") > count(old, "updatedReplicas")
        or new_old < old_old
        or count(new, "readyReplicas") > count(old, "readyReplicas")
        or count(new, "availableReplicas") > count(old, "availableReplicas")
    )


def _set_condition(
    conditions: dict[str, Obj],
    kind: str,
    flag: bool,
    reason: str,
    message: str,
    stamp: str,
    always: bool = False,
) -> None:
    """SetDeploymentCondition: a condition with the same status and reason is left as it is
    (unless `always`: progress renews lastUpdateTime); lastTransitionTime moves only when the
    status flips."""
    status = "True" if flag else "False"
    old = conditions.get(kind)
    if (
        old is not None
        and (old.get("status"), old.get("reason")) == (status, reason)
        and not always
    ) and old.get("message") == message:
        return
    transition = (
        old["lastTransitionTime"] if old is not None and old.get("status") == status else stamp
    )
    conditions[kind] = {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
