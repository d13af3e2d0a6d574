"""ReplicationControllers and ReplicaSets: keep `spec.replicas` pods running and report them.

Pods being deleted, or whose containers ended, do not count: a replacement is created as
soon as a pod starts terminating, as the real controllers do. A pod is available once it has
been Ready for `minReadySeconds` (scaled by `Timing.progress_scale`). Controllers never adopt
orphaned pods, and do nothing but report status while the controller itself is being deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from .deletion import Deletion, terminating
from .errors import ApiError
from .objects import KINDS, Kind, is_pod_ready, owner_uid, prepare_create, random_suffix
from .selectors import SelectorError, label_selector_from_object
from .store import Store
from .timing import Timing

Obj = dict[str, Any]

log = logging.getLogger(__name__)


class ReadySince:
    """When each pod last turned Ready (time.monotonic()), as seen by the controller."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def observe(self, pods: list[Obj], now: float) -> None:
        ready = {
            pod["metadata"]["uid"] for pod in pods if is_pod_ready(pod) and not terminating(pod)
        }
        for uid in list(self._since):
            if uid not in ready:
                del self._since[uid]
        for uid in ready:
            self._since.setdefault(uid, now)

    def get(self, pod: Obj) -> float | None:
        return self._since.get(pod["metadata"]["uid"])


def active(pod: Obj) -> bool:
    """Whether a pod counts as a replica: not being deleted and not finished."""
    phase = (pod.get("status") or {}).get("phase")
    return not terminating(pod) and phase not in ("Succeeded", "Failed")


class Replicas:
    """The replica manager shared by ReplicationControllers and ReplicaSets."""

    def __init__(
        self, store: Store, deletion: Deletion, timing: Timing, ready_since: ReadySince
    ) -> None:
        self.store = store
        self.deletion = deletion
        self.timing = timing
        self.ready_since = ready_since

    def owned_pods(self, owner: Obj) -> list[Obj]:
        """The pods (snapshots) whose controlling owner is `owner`, terminating ones included."""
        meta = owner["metadata"]
        return [
            pod
            for plural, pod in self.store.dependents(meta["uid"])
            if plural == "pods"
            and pod["metadata"].get("namespace") == meta["namespace"]
            and owner_uid(pod) == meta["uid"]
        ]

    def sync(self, kind: Kind, owner: Obj, now: float) -> float | None:
        """Create or delete pods towards `spec.replicas`, then write the status; returns when a
        pod next becomes available, if one is waiting out minReadySeconds."""
        spec = owner.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        pods = [p for p in self.owned_pods(owner) if active(p)]
        if not terminating(owner):
            if len(pods) < desired:
                for _ in range(desired - len(pods)):
                    self._create_pod(owner)
                pods = [p for p in self.owned_pods(owner) if active(p)]
            elif len(pods) > desired:
                pods = self._scale_down(pods, len(pods) - desired)
        status, due = self._status(owner, pods, now)
        if owner["kind"] == "ReplicaSet":  # a beta field, on by default, that RCs lack
            status["terminatingReplicas"] = sum(
                terminating(p)
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                for p in self.owned_pods(owner)
            )
        if status != owner.get("status"):
            self.store.put(kind.plural, {**owner, "status": status})
        return due

    def _scale_down(self, pods: list[Obj], count: int) -> list[Obj]:
        """Delete unready pods first, then the youngest, as the real controllers do."""

        def rank(pod: Obj) -> tuple[bool, float]:
            return is_pod_ready(pod), -(self.store.born(pod["metadata"]["uid"]) or 0.0)

        victims = sorted(pods, key=rank)[:count]
        for pod in victims:
            self.deletion.delete(KINDS["pods"], pod, "Background")
        gone = {pod["metadata"]["uid"] for pod in victims}
        return [p for p in pods if p["metadata"]["uid"] not in gone]

    def _create_pod(self, owner: Obj) -> None:
        owner_meta = owner["metadata"]
        template = owner["spec"].get("template") or {}
        template_meta = template.get("metadata") or {}
        namespace = owner_meta["namespace"]
        metadata: Obj = {
            "name": f"{owner_meta['name']}-{random_suffix()}",
            "labels": dict(template_meta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner_meta["name"],
                    "uid": owner_meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if template_meta.get("annotations"):
            metadata["annotations"] = dict(template_meta["annotations"])
        while self.store.snapshot("pods", namespace, metadata["name"]) is not None:
            metadata["name"] = f"{owner_meta['name']}-{random_suffix()}"
        body = {"metadata": metadata, "spec": template.get("spec") or {}}  # prepare_create copies
        try:
            pod = prepare_create(KINDS["pods"], body, namespace)
        except ApiError as exc:
            log.warning("cannot create pod for %s: %s", owner_meta["name"], exc.message)
            return
        self.store.put("pods", pod)

    def _status(self, owner: Obj, pods: list[Obj], now: float) -> tuple[Obj, float | None]:
        spec = owner.get("spec") or {}
        min_ready = self.timing.progress(float(spec.get("minReadySeconds") or 0))
        ready = available = 0
        due: float | None = None
        for pod in pods:
            if not is_pod_ready(pod):
                continue
            ready += 1
            since = self.ready_since.get(pod)
            since = now if since is None else since
            if since + min_ready <= now:
                available += 1
            else:
                due = since + min_ready if due is None else min(due, since + min_ready)
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(_labeled(owner, pod) for pod in pods),
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": owner["metadata"].get("generation", 1),
        }
        if (owner.get("status") or {}).get("conditions"):
            status["conditions"] = owner["status"]["conditions"]
        return status, due


def _labeled(owner: Obj, pod: Obj) -> bool:
    selector = (owner.get("spec") or {}).get("selector") or {}
    labels = pod["metadata"].get("labels") or {}
    if owner["kind"] == "ReplicationController":
        return all(labels.get(k) == v for k, v in selector.items())
    try:
        return label_selector_from_object(selector).matches(labels)
    except SelectorError:
        return False
