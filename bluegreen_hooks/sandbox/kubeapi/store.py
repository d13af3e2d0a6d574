"""The object store: objects by key, one global resourceVersion, a bounded event history."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any, NamedTuple

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (plural, namespace, name)


class Event(NamedTuple):
    """One recorded change; `obj` is an immutable snapshot carrying resourceVersion `rv`."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    plural: str
    namespace: str
    obj: Obj
    at: float  # time.monotonic() when it was recorded


class Expired(Exception):
    """The requested resourceVersion is older than the retained history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


def clone(obj: Obj) -> Obj:
    """A deep copy of a JSON-shaped object (dicts, lists, scalars); several times faster than
    copy.deepcopy, which matters because every write and every read copies a whole object."""
    return {key: _clone(value) for key, value in obj.items()}


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value


class Store:
    """Thread-safe object store.

    Every method takes `cond` (a re-entrant Condition), so callers may hold it across several
    calls to make a read-check-write atomic. Every write stamps the next resourceVersion,
    records an event and notifies all waiters (watches and the controller). Stored dicts are
    never mutated in place: writes store a copy, `get` and `objects` hand out copies, and
    `snapshot`, `snapshots` and `dependents` hand out the stored dicts themselves, which
    callers must only read. So event snapshots can be serialised without the lock.
    """

    def __init__(self, history_size: int = 10000, history_seconds: float | None = None) -> None:
        self.cond = threading.Condition(threading.RLock())
        self.closed = False
        # plural -> (namespace, name) -> stored snapshot
        self._objects: defaultdict[str, dict[tuple[str, str], Obj]] = defaultdict(dict)
        self._dependents: defaultdict[str, set[Key]] = defaultdict(set)  # owner uid -> keys
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=max(1, history_size))
        self._compacted_rv = 0  # events with rv <= this are no longer retained
        self.history_seconds = history_seconds  # events older than this are compacted
        self._born: dict[str, float] = {}  # uid -> time.monotonic() at creation
        self._keys: dict[str, Key] = {}  # uid -> key of the live object with that uid

    @property
    def rv(self) -> int:
        """The resourceVersion of the latest write."""
        return self._rv

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        obj = self.snapshot(plural, namespace, name)
        return clone(obj) if obj is not None else None

    def snapshot(self, plural: str, namespace: str, name: str) -> Obj | None:
        """The stored object itself (read only), or None."""
        with self.cond:
            return self._objects[plural].get((namespace, name))

    def snapshots(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Stored objects of one resource (read only), sorted by (namespace, name); namespace
        None means all."""
        with self.cond:
            objects = self._objects[plural]
            keys = sorted(key for key in objects if namespace is None or key[0] == namespace)
            return [objects[key] for key in keys]

    def dependents(self, uid: str) -> list[tuple[str, Obj]]:
        """(plural, stored object) of every object with an ownerReference to `uid`, sorted by
        (plural, namespace, name); read only."""
        with self.cond:
            return [
                (plural, self._objects[plural][namespace, name])
                for plural, namespace, name in sorted(self._dependents.get(uid, ()))
            ]

    def put(self, plural: str, obj: Obj) -> Obj:
        """Create or replace `obj` (keyed by its metadata), stamping a new resourceVersion."""
        with self.cond:
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            old = self._objects[plural].get(key)
            stored = clone(obj)
            self._rv += 1
            stored["metadata"]["resourceVersion"] = str(self._rv)
            self._objects[plural][key] = stored
            if old is None:
                event_type = "ADDED"
                self._born[meta["uid"]] = time.monotonic()
                self._keys[meta["uid"]] = (plural, *key)
            else:
                event_type = "MODIFIED"
                self._index_owners(plural, old, add=False)
            self._index_owners(plural, stored, add=True)
            self._record(Event(self._rv, event_type, plural, key[0], stored, time.monotonic()))
            return clone(stored)

    def delete(self, plural: str, namespace: str, name: str) -> Obj | None:
        """Remove an object; returns its final snapshot (with the deletion's resourceVersion)."""
        with self.cond:
            old = self._objects[plural].pop((namespace, name), None)
            if old is None:
                return None
            self._index_owners(plural, old, add=False)
            self._rv += 1
            final = clone(old)
            final["metadata"]["resourceVersion"] = str(self._rv)
            self._born.pop(final["metadata"].get("uid", ""), None)
            self._keys.pop(final["metadata"].get("uid", ""), None)
            self._record(Event(self._rv, "DELETED", plural, namespace, final, time.monotonic()))
            return clone(final)

    def alive(self, uid: str) -> bool:
        """Whether an object with this uid exists (being deleted counts as existing)."""
        with self.cond:
            return uid in self._keys

    def key_of(self, uid: str) -> Key | None:
        """(plural, namespace, name) of the live object with this uid, if any."""
        with self.cond:
            return self._keys.get(uid)

    def owner_uids(self) -> list[str]:
        """Every uid that some object names in its ownerReferences, live or not."""
        with self.cond:
            return list(self._dependents)

    def born(self, uid: str) -> float | None:
        """time.monotonic() when the object with this uid was created, if it still exists."""
        with self.cond:
            return self._born.get(uid)

    def events_after(self, rv: int) -> list[Event]:
        """All retained events newer than `rv`, oldest first; raises Expired if some are lost."""
        with self.cond:
            self.check_retained(rv)
            newer: list[Event] = []
            for event in reversed(self._history):
                if event.rv <= rv:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    def check_retained(self, rv: int) -> None:
        """Raise Expired when events newer than `rv` are no longer all retained (compacted)."""
        with self.cond:
            self._expire_old_events()
            if rv < self._compacted_rv:
                raise Expired(rv, self._compacted_rv + 1)

    @property
    def compacted_rv(self) -> int:
        """Events up to this resourceVersion are gone: older versions answer 410 Gone."""
        with self.cond:
            self._expire_old_events()
            return self._compacted_rv

    def compact(self) -> int:
        """Drop the whole event history now, like etcd's compaction; returns the version
        from which watches can still start (the current one)."""
        with self.cond:
            self._history.clear()
            self._compacted_rv = self._rv
            return self._rv

    def _expire_old_events(self) -> None:
        if self.history_seconds is None:
            return
        horizon = time.monotonic() - self.history_seconds
        while self._history and self._history[0].at < horizon:
            self._compacted_rv = self._history.popleft().rv

    def wake(self) -> None:
        """Wake every waiter (watches re-check whether they should end)."""
        with self.cond:
            self.cond.notify_all()

    def close(self) -> None:
        """Mark the store closed and wake every waiter so watches and the controller exit."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _index_owners(self, plural: str, obj: Obj, add: bool) -> None:
        meta = obj["metadata"]
        key = (plural, meta.get("namespace", ""), meta["name"])
        refs = meta.get("ownerReferences")
        for ref in refs if isinstance(refs, list) else []:
            uid = ref.get("uid") if isinstance(ref, dict) else None
            if not isinstance(uid, str):
                continue
            if add:
                self._dependents[uid].add(key)
            else:
                self._dependents[uid].discard(key)
                if not self._dependents[uid]:
                    del self._dependents[uid]

    def _record(self, event: Event) -> None:
        self._expire_old_events()
        if len(self._history) == self._history.maxlen:
            self._compacted_rv = self._history[0].rv
        self._history.append(event)
        self.cond.notify_all()
