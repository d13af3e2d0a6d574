"""The object store: objects by key, one global resourceVersion, a bounded event history."""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from typing import Any, NamedTuple

Obj = dict[str, Any]


class Event(NamedTuple):
    """One recorded change; `obj` is an immutable snapshot carrying resourceVersion `rv`."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    plural: str
    namespace: str
    obj: Obj


class Expired(Exception):
    """The requested resourceVersion is older than the retained history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


class Store:
    """Thread-safe object store.

    Every method takes `cond` (a re-entrant Condition), so callers may hold it across several
    calls to make a read-check-write atomic. Every write stamps the next resourceVersion,
    records an event and notifies all waiters (watches and the controller). Stored dicts are
    never mutated in place: writes store a deep copy and reads hand out deep copies, so event
    snapshots can be serialised without the lock.
    """

    def __init__(self, history_size: int = 10000) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.closed = False
        self._objects: dict[tuple[str, str, str], Obj] = {}
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=max(1, history_size))
        self._compacted_rv = 0  # events with rv <= this are no longer retained
        self._born: dict[str, float] = {}  # uid -> time.monotonic() at creation

    @property
    def rv(self) -> int:
        """The resourceVersion of the latest write."""
        return self._rv

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        with self.cond:
            obj = self._objects.get((plural, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Objects of one resource, sorted by (namespace, name); namespace None means all."""
        with self.cond:
            keys = sorted(
                key
                for key in self._objects
                if key[0] == plural and (namespace is None or key[1] == namespace)
            )
            return [copy.deepcopy(self._objects[key]) for key in keys]

    def put(self, plural: str, obj: Obj) -> Obj:
        """Create or replace `obj` (keyed by its metadata), stamping a new resourceVersion."""
        with self.cond:
            meta = obj["metadata"]
            key = (plural, meta.get("namespace", ""), meta["name"])
            event_type = "MODIFIED" if key in self._objects else "ADDED"
            stored = copy.deepcopy(obj)
            self._rv += 1
            stored["metadata"]["resourceVersion"] = str(self._rv)
            self._objects[key] = stored
            if event_type == "ADDED":
                self._born[meta["uid"]] = time.monotonic()
            self._record(Event(self._rv, event_type, plural, key[1], stored))
            return copy.deepcopy(stored)

    def delete(self, plural: str, namespace: str, name: str) -> Obj | None:
        """Remove an object; returns its final snapshot (with the deletion's resourceVersion)."""
        with self.cond:
            old = self._objects.pop((plural, namespace, name), None)
            if old is None:
                return None
            self._rv += 1
            final = copy.deepcopy(old)
            final["metadata"]["resourceVersion"] = str(self._rv)
            self._born.pop(final["metadata"].get("uid", ""), None)
            self._record(Event(self._rv, "DELETED", plural, namespace, final))
            return copy.deepcopy(final)

    def born(self, uid: str) -> float | None:
        """time.monotonic() when the object with this uid was created, if it still exists."""
        with self.cond:
            return self._born.get(uid)

    def events_after(self, rv: int) -> list[Event]:
        """All retained events newer than `rv`, oldest first; raises Expired if some are lost."""
        with self.cond:
            if rv < self._compacted_rv:
                raise Expired(rv, self._compacted_rv + 1)
            newer: list[Event] = []
            for event in reversed(self._history):
                if event.rv <= rv:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    def close(self) -> None:
        """Mark the store closed and wake every waiter so watches and the controller exit."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _record(self, event: Event) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted_rv = self._history[0].rv
        self._history.append(event)
        self.cond.notify_all()
