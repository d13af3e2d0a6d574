"""Pod events as a kubelet records them: core/v1 Events, a repeat aggregated into `count`."""

from __future__ import annotations

import uuid
from typing import Any

from .objects import NODE_NAME, now_rfc3339
from .store import Store

Obj = dict[str, Any]


class EventRecorder:
    """Writes Events about pods into the store; called with the store's lock held.

    The same (pod, fieldPath, type, reason, message) again bumps `count` and `lastTimestamp`
    of the Event already written, as the kubelet's event correlator does."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._written: dict[tuple[str, ...], tuple[str, str]] = {}  # key -> (namespace, name)

    def record(self, pod: Obj, field_path: str, kind: str, reason: str, message: str) -> None:
        meta = pod["metadata"]
        key = (meta["uid"], field_path, kind, reason, message)
        now = now_rfc3339()
        existing = self._written.get(key)
        stored = self.store.snapshot("events", *existing) if existing else None
        if stored is not None:
            repeat = {**stored, "count": int(stored.get("count", 1)) + 1, "lastTimestamp": now}
            self.store.put("events", repeat)
            return
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        self._written[key] = (meta["namespace"], name)
        self.store.put(
            "events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": name,
                    "namespace": meta["namespace"],
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": now,
                },
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "apiVersion": "v1",
                    "resourceVersion": meta.get("resourceVersion", ""),
                    "fieldPath": field_path,
                },
                "reason": reason,
                "message": message,
                "source": {"component": "kubelet", "host": NODE_NAME},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": kind,
                "eventTime": None,
                "reportingComponent": "kubelet",
                "reportingInstance": NODE_NAME,
            },
        )

    def forget(self, pod_uids: set[str]) -> None:
        """Stop aggregating for pods that are gone (their Events stay, as on a cluster)."""
        self._written = {key: at for key, at in self._written.items() if key[0] not in pod_uids}
