"""Deployments as the real controller runs them: ReplicaSets, rollouts, status and conditions.

A Deployment owns one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`,
whose pods carry the `pod-template-hash` label. A template change creates a new ReplicaSet
and rolls pods over to it: RollingUpdate within `maxSurge` (rounded up) and `maxUnavailable`
(rounded down) as the real controller computes them, counting only available pods; Recreate
scales the old ReplicaSets to zero, waits until their pods are gone, then scales the new one
up. Old ReplicaSets stay at zero replicas, the newest `revisionHistoryLimit` of them kept.
The status and its conditions are computed in `rollout_status.py`. Paused Deployments and
proportional scaling during a rollout are not modelled.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from .deletion import Deletion, terminating
from .errors import ApiError
from .objects import KINDS, owner_uid, prepare_create, template_hash
from .rollout_status import RolloutStatus, status_count
from .store import Store, clone
from .timing import Timing

Obj = dict[str, Any]

log = logging.getLogger(__name__)

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent field against `total`, as Kubernetes' GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def fenceposts(deployment: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate Deployment; never both zero."""
    spec = deployment["spec"]
    desired = int(spec.get("replicas", 1))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(deployment: Obj) -> int:
    spec = deployment["spec"]
    desired = int(spec.get("replicas", 1))
    if (spec.get("strategy") or {}).get("type") == "Recreate" or desired == 0:
        return 0
    return min(fenceposts(deployment)[1], desired)


def _replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _without_hash(template: Obj) -> Obj:
    stripped = clone(template)
    labels = (stripped.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return stripped


class Deployments:
    """Reconciles each Deployment towards its spec, one step per pass."""

    def __init__(self, store: Store, deletion: Deletion, timing: Timing) -> None:
        self.store = store
        self.deletion = deletion
        self.timing = timing
        self.status = RolloutStatus(timing)

    def sync(self, deployment: Obj, now: float) -> float | None:
        """One step of the rollout, then the status; returns when the progress deadline of a
        Deployment still rolling out would pass, to check it then."""
        replica_sets = self._owned(deployment)
        new_rs = self._find_new(deployment, replica_sets)
        created = False
        if not terminating(deployment):
            if (deployment["spec"].get("strategy") or {}).get("type") == "Recreate":
                new_rs, created = self._recreate(deployment, new_rs, replica_sets)
            else:
                new_rs, created = self._roll(deployment, new_rs, replica_sets)
            replica_sets = self._owned(deployment)
            self._clean_history(deployment, new_rs, replica_sets)
            replica_sets = self._owned(deployment)
        return self._write_status(deployment, new_rs, replica_sets, created, now)

    # ------------------------------------------------------------------ replica sets

    def _owned(self, deployment: Obj) -> list[Obj]:
        meta = deployment["metadata"]
        found = [
            rs
            for plural, rs in self.store.dependents(meta["uid"])
            if plural == "replicasets"
            and rs["metadata"].get("namespace") == meta["namespace"]
            and owner_uid(rs) == meta["uid"]
        ]
        return sorted(
            found, key=lambda rs: (_revision(rs), self.store.born(rs["metadata"]["uid"]) or 0.0)
        )

    @staticmethod
    def _find_new(deployment: Obj, replica_sets: list[Obj]) -> Obj | None:
        wanted = deployment["spec"].get("template") or {}
        for rs in replica_sets:
            if _without_hash(rs["spec"].get("template") or {}) == wanted:
                return rs
        return None

    def _create_rs(self, deployment: Obj, replicas: int, replica_sets: list[Obj]) -> Obj | None:
        meta, spec = deployment["metadata"], deployment["spec"]
        pod_hash = template_hash(spec.get("template") or {})
        template = clone(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        revision = max((_revision(rs) for rs in replica_sets), default=0) + 1
        body: Obj = {
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    **self._size_annotations(deployment),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": spec.get("minReadySeconds") or 0,
                "selector": selector,
                "template": template,
            },
        }
        taken = self.store.snapshot("replicasets", meta["namespace"], body["metadata"]["name"])
        if taken is not None:
            if owner_uid(taken) is not None or terminating(taken):
                log.warning("replica set name %s is taken", body["metadata"]["name"])
                return None
            adopted = clone(taken)  # e.g. left behind by an Orphan delete of this Deployment
            adopted["metadata"]["ownerReferences"] = body["metadata"]["ownerReferences"]
            return self.store.put("replicasets", adopted)
        try:
            rs = prepare_create(KINDS["replicasets"], body, meta["namespace"])
        except ApiError as exc:
            log.warning("cannot create replica set for %s: %s", meta["name"], exc.message)
            return None
        return self.store.put("replicasets", rs)

    def _size_annotations(self, deployment: Obj) -> dict[str, str]:
        desired = int(deployment["spec"].get("replicas", 1))
        surge = 0
        if (deployment["spec"].get("strategy") or {}).get("type") != "Recreate":
            surge = fenceposts(deployment)[0]
        return {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(desired + surge)}

    def _scale(self, deployment: Obj, rs: Obj, replicas: int) -> Obj:
        """Set a ReplicaSet's replicas (and the Deployment's size annotations on it)."""
        annotations = {
            **(rs["metadata"].get("annotations") or {}),
            **self._size_annotations(deployment),
        }
        min_ready = deployment["spec"].get("minReadySeconds") or 0
        if (
            _replicas(rs) == replicas
            and annotations == rs["metadata"].get("annotations")
            and rs["spec"].get("minReadySeconds", 0) == min_ready
        ):
            return rs
        updated = clone(rs)
        updated["metadata"]["annotations"] = annotations
        if (
            updated["spec"].get("replicas") != replicas
            or updated["spec"].get("minReadySeconds", 0) != min_ready
        ):
            updated["spec"]["replicas"] = replicas
            updated["spec"]["minReadySeconds"] = min_ready
            updated["metadata"]["generation"] = int(rs["metadata"].get("generation", 1)) + 1
        return self.store.put("replicasets", updated)

    def _sync_revision(self, rs: Obj, replica_sets: list[Obj]) -> Obj:
        """The current ReplicaSet (e.g. an old template rolled back to) takes the next revision."""
        newest = max((_revision(other) for other in replica_sets if other is not rs), default=0)
        if _revision(rs) > newest:
            return rs
        updated = clone(rs)
        updated["metadata"].setdefault("annotations", {})[REVISION] = str(newest + 1)
        return self.store.put("replicasets", updated)

    # ------------------------------------------------------------------ strategies

    def _roll(
        self, deployment: Obj, new_rs: Obj | None, replica_sets: list[Obj]
    ) -> tuple[Obj | None, bool]:
        desired = int(deployment["spec"].get("replicas", 1))
        surge, unavailable = fenceposts(deployment)
        old = [rs for rs in replica_sets if rs is not new_rs]
        created = False
        if new_rs is None:
            total = sum(_replicas(rs) for rs in old)
            new_rs = self._create_rs(
                deployment, min(max(desired + surge - total, 0), desired), replica_sets
            )
            created = new_rs is not None
            if new_rs is None:
                return None, False
        else:
            new_rs = self._sync_revision(new_rs, replica_sets)
            current = _replicas(new_rs)
            if current > desired:
                new_rs = self._scale(deployment, new_rs, desired)
            elif current < desired:
                total = current + sum(_replicas(rs) for rs in old)
                room = desired + surge - total
                new_rs = self._scale(
                    deployment, new_rs, current + max(0, min(room, desired - current))
                )
            else:
                new_rs = self._scale(deployment, new_rs, current)
        self._scale_down_old(deployment, new_rs, old, desired, unavailable)
        return new_rs, created

    def _scale_down_old(
        self, deployment: Obj, new_rs: Obj, old: list[Obj], desired: int, unavailable: int
    ) -> None:
        """Scale old ReplicaSets down as far as availability allows, unhealthy pods first."""
        if sum(_replicas(rs) for rs in old) == 0:
            return
        min_available = desired - unavailable
        total = _replicas(new_rs) + sum(_replicas(rs) for rs in old)
        new_unavailable = _replicas(new_rs) - status_count(new_rs, "availableReplicas")
        room = total - min_available - new_unavailable
        if room <= 0:
            return
        scaled: list[Obj] = []
        for rs in old:  # oldest first: unavailable replicas cost nothing to remove
            unhealthy = _replicas(rs) - status_count(rs, "availableReplicas")
            down = min(room, max(unhealthy, 0))
            if down > 0:
                room -= down
                rs = self._scale(deployment, rs, _replicas(rs) - down)
            scaled.append(rs)
        available = status_count(new_rs, "availableReplicas") + sum(
            status_count(rs, "availableReplicas") for rs in scaled
        )
        budget = available - min_available
        for rs in scaled:
            if budget <= 0:
                break
            down = min(_replicas(rs), budget)
            if down > 0:
                budget -= down
                self._scale(deployment, rs, _replicas(rs) - down)

    def _recreate(
        self, deployment: Obj, new_rs: Obj | None, replica_sets: list[Obj]
    ) -> tuple[Obj | None, bool]:
        old = [rs for rs in replica_sets if rs is not new_rs]
        running = [rs for rs in old if _replicas(rs) > 0]
        for rs in running:
            self._scale(deployment, rs, 0)
        if running or any(self._has_pods(rs) for rs in old):
            return new_rs, False  # the new pods start once every old pod is gone
        desired = int(deployment["spec"].get("replicas", 1))
        if new_rs is None:
            new_rs = self._create_rs(deployment, desired, replica_sets)
            return new_rs, new_rs is not None
        new_rs = self._sync_revision(new_rs, replica_sets)
        return self._scale(deployment, new_rs, desired), False

    def _has_pods(self, rs: Obj) -> bool:
        uid = rs["metadata"]["uid"]
        return any(
            plural == "pods"
            and owner_uid(pod) == uid
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            for plural, pod in self.store.dependents(uid)
        )

    def _clean_history(self, deployment: Obj, new_rs: Obj | None, replica_sets: list[Obj]) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit")
        if not isinstance(limit, int):
            return
        idle = [
            rs
            for rs in replica_sets
            if rs is not new_rs
            and _replicas(rs) == 0
            and status_count(rs, "replicas") == 0
            and not terminating(rs)
            and not self._has_pods(rs)
        ]
        for rs in idle[: max(0, len(idle) - limit)]:  # oldest revisions first
            self.deletion.delete(KINDS["replicasets"], rs, "Background")

    # ------------------------------------------------------------------ status

    def _write_status(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        replica_sets: list[Obj],
        created: bool,
        now: float,
    ) -> float | None:
        meta = deployment["metadata"]
        if new_rs is not None:  # read it again: scaling wrote a newer copy
            new_rs = next(
                (rs for rs in replica_sets if rs["metadata"]["uid"] == new_rs["metadata"]["uid"]),
                new_rs,
            )
        status, due = self.status.compute(
            deployment, new_rs, replica_sets, created, now, max_unavailable(deployment)
        )
        annotations = dict(meta.get("annotations") or {})
        if new_rs is not None:
            annotations[REVISION] = (new_rs["metadata"].get("annotations") or {}).get(REVISION, "1")
        if status != deployment.get("status") or annotations != (meta.get("annotations") or {}):
            updated = {**deployment, "status": status, "metadata": {**meta}}
            if annotations:
                updated["metadata"]["annotations"] = annotations
            self.store.put("deployments", updated)
        return due
