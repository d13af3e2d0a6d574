"""Deletion as a cluster does it: grace periods, finalizers, propagation, garbage collection.

A DELETE either removes the object at once or marks it (`deletionTimestamp`, a MODIFIED
event) and leaves the rest to `collect`, which the controller runs on every pass:
- a pod waits out its grace period (`gracePeriodSeconds`, else its
  `terminationGracePeriodSeconds`, scaled by `Timing.grace_scale`), not Ready meanwhile;
- any object stays while it has finalizers; the update that removes the last one removes it;
- Foreground: the owner gets the `foregroundDeletion` finalizer, its dependents are deleted,
  and it goes once none is left (every dependent, not only those with blockOwnerDeletion);
- Orphan: the owner gets the `orphan` finalizer; its dependents lose their ownerReferences;
- Background: the owner goes at once; the garbage collector deletes dependents whose owners
  are all gone on its next pass;
- a namespace turns Terminating, its contents are deleted, then it goes.
"""

from __future__ import annotations

import time
from typing import Any

from .objects import KINDS, Kind, now_rfc3339, rfc3339
from .store import Store, clone
from .timing import Timing

Obj = dict[str, Any]
Key = tuple[str, str, str]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
NAMESPACE_FINALIZER = "kubernetes"
DEFAULT_GRACE_SECONDS = 30


def terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


class Deletion:
    """Starts deletions for the API and finishes them for the controller; holds the store lock."""

    def __init__(self, store: Store, timing: Timing) -> None:
        self.store = store
        self.timing = timing
        self._pending: dict[Key, str] = {}  # objects being deleted -> their uid
        self._grace: dict[str, tuple[float, float]] = {}  # pod uid -> (asked at, grace seconds)

    # ------------------------------------------------------------------ requests

    def delete(self, kind: Kind, obj: Obj, policy: str, grace: int | None = None) -> Obj | None:
        """Start deleting `obj`; returns it as it is now, or None once it is gone."""
        with self.store.cond:
            if kind.plural == "namespaces":
                return self._terminate_namespace(obj)
            meta = obj["metadata"]
            if terminating(obj):
                return self._shorten_grace(obj, grace) if kind.plural == "pods" else obj
            finalizers = [f for f in meta.get("finalizers") or [] if f not in (FOREGROUND, ORPHAN)]
            if policy == "Foreground":
                finalizers.append(FOREGROUND)
            elif policy == "Orphan":
                finalizers.append(ORPHAN)
            seconds = self._grace_seconds(obj, grace) if kind.plural == "pods" else 0
            if not finalizers and seconds == 0:
                self._remove(kind, obj)
                return None
            marked = clone(obj)
            meta = marked["metadata"]
            meta["deletionTimestamp"] = rfc3339(time.time() + seconds)
            meta["deletionGracePeriodSeconds"] = seconds
            if finalizers:
                meta["finalizers"] = finalizers
            if kind.plural == "pods":
                marked["status"] = _not_ready(marked.get("status") or {})
                self._grace[meta["uid"]] = (time.monotonic(), seconds)
            return self._mark(kind, marked)

    def released(self, kind: Kind, obj: Obj) -> Obj | None:
        """After an update of `obj`: remove it if it is being deleted and nothing holds it
        (no finalizers left, a pod's grace period over); returns it, or None once gone."""
        with self.store.cond:
            if not terminating(obj) or obj["metadata"].get("finalizers"):
                return obj
            if kind.plural == "namespaces":
                if (obj.get("spec") or {}).get("finalizers"):
                    return obj
            elif kind.plural == "pods" and self._grace_left(obj) > 0:
                return obj
            self._remove(kind, obj)
            return None

    # ------------------------------------------------------------------ the controller's pass

    def collect(self) -> float | None:
        """Finish what can be finished; returns when a grace period next ends, if any."""
        with self.store.cond:
            next_due: float | None = None
            for key, uid in list(self._pending.items()):
                obj = self.store.snapshot(*key)
                if obj is None or obj["metadata"].get("uid") != uid:
                    self._forget(key, uid)
                    continue
                kind = KINDS[key[0]]
                if kind.plural == "namespaces":
                    obj = self._drain_namespace(obj)
                else:
                    obj = self._cascade(kind, obj)
                if obj is None:
                    continue
                if kind.plural == "pods" and not obj["metadata"].get("finalizers"):
                    left = self._grace_left(obj)
                    if left > 0:
                        due = time.monotonic() + left
                        next_due = due if next_due is None else min(next_due, due)
                        continue
                self.released(kind, obj)
            self._collect_orphans()
            return next_due

    # ------------------------------------------------------------------ helpers

    def _mark(self, kind: Kind, obj: Obj) -> Obj:
        stored = self.store.put(kind.plural, obj)
        meta = stored["metadata"]
        self._pending[(kind.plural, meta.get("namespace", ""), meta["name"])] = meta["uid"]
        return stored

    def _remove(self, kind: Kind, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (kind.plural, meta.get("namespace", ""), meta["name"])
        self.store.delete(*key)
        self._forget(key, meta.get("uid", ""))

    def _forget(self, key: Key, uid: str) -> None:
        self._pending.pop(key, None)
        self._grace.pop(uid, None)

    @staticmethod
    def _grace_seconds(pod: Obj, requested: int | None) -> int:
        """Pods that never ran, or whose containers ended, go at once, as on a real cluster."""
        status = pod.get("status") or {}
        if not (pod.get("spec") or {}).get("nodeName") or status.get("phase") in (
            "Succeeded",
            "Failed",
        ):
            return 0
        if requested is not None:
            return max(0, int(requested))
        value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return int(value) if isinstance(value, int) else DEFAULT_GRACE_SECONDS

    def _grace_left(self, pod: Obj) -> float:
        asked, seconds = self._grace.get(pod["metadata"]["uid"], (0.0, 0.0))
        return asked + self.timing.grace(seconds) - time.monotonic()

    def _shorten_grace(self, pod: Obj, requested: int | None) -> Obj:
        """A second DELETE may shorten a pod's grace period, never lengthen it."""
        uid = pod["metadata"]["uid"]
        if requested is None or self.timing.grace(requested) >= self._grace_left(pod):
            return pod
        shortened = clone(pod)
        shortened["metadata"]["deletionTimestamp"] = rfc3339(time.time() + max(0, requested))
        shortened["metadata"]["deletionGracePeriodSeconds"] = max(0, requested)
        self._grace[uid] = (time.monotonic(), max(0, requested))
        stored = self._mark(KINDS["pods"], shortened)
        return self.released(KINDS["pods"], stored) or stored

    def _dependents(self, obj: Obj) -> list[tuple[Kind, Obj]]:
        meta = obj["metadata"]
        return [
            (KINDS[plural], child)
            for plural, child in self.store.dependents(meta["uid"])
            if child["metadata"].get("namespace", "") == meta.get("namespace", "")
        ]

    def _cascade(self, kind: Kind, obj: Obj) -> Obj | None:
        """Foreground and Orphan work for one owner; drops the finalizer once it is done."""
        finalizers = obj["metadata"].get("finalizers") or []
        if FOREGROUND in finalizers:
            dependents = self._dependents(obj)
            for child_kind, child in dependents:
                if not terminating(child):
                    policy = "Foreground" if self._dependents(child) else "Background"
                    self.delete(child_kind, child, policy)
            if dependents:
                return obj
            return self._drop_finalizer(kind, obj, FOREGROUND)
        if ORPHAN in finalizers:
            uid = obj["metadata"]["uid"]
            for child_kind, child in self._dependents(obj):
                freed = clone(child)
                refs = [
                    r for r in freed["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
                ]
                if refs:
                    freed["metadata"]["ownerReferences"] = refs
                else:
                    freed["metadata"].pop("ownerReferences", None)
                self.store.put(child_kind.plural, freed)
            return self._drop_finalizer(kind, obj, ORPHAN)
        return obj

    def _drop_finalizer(self, kind: Kind, obj: Obj, finalizer: str) -> Obj | None:
        updated = clone(obj)
        left = [f for f in updated["metadata"].get("finalizers") or [] if f != finalizer]
        if left:
            updated["metadata"]["finalizers"] = left
        else:
            updated["metadata"].pop("finalizers", None)
        return self.released(kind, self.store.put(kind.plural, updated))

    def _collect_orphans(self) -> None:
        """The garbage collector: delete (in the background) what only dead owners own."""
        for uid in self.store.owner_uids():
            if self.store.alive(uid):
                continue
            for plural, child in self.store.dependents(uid):
                refs = child["metadata"].get("ownerReferences") or []
                if any(self.store.alive(str(r.get("uid"))) for r in refs):
                    cleaned = clone(child)
                    cleaned["metadata"]["ownerReferences"] = [
                        r for r in refs if self.store.alive(str(r.get("uid")))
                    ]
                    self.store.put(plural, cleaned)
                elif not terminating(child):
                    policy = "Foreground" if self._dependents(child) else "Background"
                    self.delete(KINDS[plural], child, policy)

    # ------------------------------------------------------------------ namespaces

    def _terminate_namespace(self, namespace: Obj) -> Obj:
        if terminating(namespace):
            return namespace
        marked = clone(namespace)
        marked["metadata"]["deletionTimestamp"] = now_rfc3339()
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        marked.setdefault("spec", {}).setdefault("finalizers", [NAMESPACE_FINALIZER])
        marked["status"] = {**(marked.get("status") or {}), "phase": "Terminating"}
        return self._mark(KINDS["namespaces"], marked)

    def _drain_namespace(self, namespace: Obj) -> Obj | None:
        """Delete what the namespace holds; once it is empty, drop its finalizer."""
        name = namespace["metadata"]["name"]
        contents = [
            (kind, obj)
            for kind in KINDS.values()
            if kind.namespaced
            for obj in self.store.snapshots(kind.plural, name)
        ]
        for kind, obj in contents:
            if not terminating(obj):
                self.delete(kind, obj, "Background")
        if contents:
            return namespace
        spec = namespace.get("spec") or {}
        if NAMESPACE_FINALIZER in (spec.get("finalizers") or []):
            emptied = clone(namespace)
            emptied["spec"]["finalizers"] = [
                f for f in spec["finalizers"] if f != NAMESPACE_FINALIZER
            ]
            namespace = self.store.put("namespaces", emptied)
        return self.released(KINDS["namespaces"], namespace)


def _not_ready(status: Obj) -> Obj:
    """A terminating pod's status: its containers are stopping, so it is not Ready."""
    now = now_rfc3339()
    conditions = []
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") in ("Ready", "ContainersReady")
            and condition.get("status") != "False"
        ):
            condition = {**condition, "status": "False", "lastTransitionTime": now}
        conditions.append(condition)
    containers = [{**c, "ready": False} for c in status.get("containerStatuses") or []]
    changed = {**status, "conditions": conditions}
    if containers:
        changed["containerStatuses"] = containers
    return changed
