"""Watch streams: initial ADDED events or history replay, then live events until the watch ends.

A watch ends, like kube-apiserver's, when its time is up (`timeoutSeconds`, capped by the
server's own limit), the store closes, or the client hangs up. With `allowWatchBookmarks` it
sends BOOKMARK events now and then and right before it times out; a resourceVersion whose
history was compacted gets an ERROR event carrying a 410 Expired Status.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .selectors import FieldSelector, LabelSelector
from .store import Event, Expired, Store

Obj = dict[str, Any]

# While no event arrives, check this often whether the client hung up, so abandoned watches
# do not keep a thread forever. Events themselves wake the watch at once via the Condition.
LIVENESS_CHECK_SECONDS = 2.0


# kube-apiserver's defaults: --min-request-timeout 1800 s; a bookmark about every minute.
MAX_WATCH_SECONDS = 1800.0
BOOKMARK_SECONDS = 60.0


class WatchLimits:
    """How long the server lets watches run and how often it sends bookmarks (settable)."""

    def __init__(
        self,
        max_seconds: float = MAX_WATCH_SECONDS,
        bookmark_seconds: float = BOOKMARK_SECONDS,
        seed: int | None = None,
    ) -> None:
        self.max_seconds = max_seconds
        self.bookmark_seconds = bookmark_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def timeout(self, requested: float | None) -> float:
        """The stream's length: the server's limit with the apiserver's jitter (between it
        and twice it), or the client's `timeoutSeconds` when that is shorter."""
        with self._lock:
            limit = self.max_seconds * (1.0 + self._rng.random())
        return limit if requested is None else min(requested, limit)


class WatchCut(Exception):
    """A fault asked to cut this watch's connection now (see KubeFaults.cut_watches)."""


class Cutter(Protocol):
    def due(self) -> bool: ...

    def seconds_left(self) -> float | None: ...


@dataclass(frozen=True)
class WatchRequest:
    """What one watch asked for, checked and resolved by the verbs layer."""

    plural: str
    kind: str
    api_version: str
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    since: int | None  # None: list the current objects as ADDED first
    timeout: float  # seconds until the server ends the stream
    bookmark_interval: float | None  # None: no bookmarks were asked for


def expired_event(exc: Expired) -> Obj:
    return {"type": "ERROR", "object": expired_status(str(exc))}


def expired_status(message: str) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    }


def _bookmark(watch: WatchRequest, rv: int) -> Obj:
    """Only kind, apiVersion and metadata.resourceVersion, as the API promises."""
    return {
        "type": "BOOKMARK",
        "object": {
            "kind": watch.kind,
            "apiVersion": watch.api_version,
            "metadata": {"resourceVersion": str(rv)},
        },
    }


def stream_events(
    store: Store,
    watch: WatchRequest,
    client_gone: Callable[[], bool],
    cutter: Cutter,
) -> Iterator[Obj]:
    """Yield watch events for one resource (optionally one namespace) matching the selectors.

    `watch.since` None means "from now, after listing current objects as ADDED"; otherwise
    replay every retained event after that resourceVersion (an ERROR 410 if it is too old).
    Raises WatchCut when `cutter` says so.
    """
    started = time.monotonic()
    deadline = started + watch.timeout
    interval = watch.bookmark_interval
    next_bookmark = None if interval is None else started + interval

    def wanted(event: Event) -> bool:
        return (
            event.plural == watch.plural
            and (watch.namespace is None or event.namespace == watch.namespace)
            and watch.labels.matches(event.obj["metadata"].get("labels"))
            and watch.fields.matches(event.obj)
        )

    def woken() -> bool:
        return store.closed or store.rv > cursor or cutter.due()

    initial: list[Obj] = []
    with store.cond:
        if watch.since is None:
            cursor = store.rv
            initial = [
                obj
                for obj in store.snapshots(watch.plural, watch.namespace)
                if watch.labels.matches(obj["metadata"].get("labels")) and watch.fields.matches(obj)
            ]
        else:
            cursor = watch.since
            try:
                store.check_retained(cursor)
            except Expired as exc:
                yield expired_event(exc)
                return
    for obj in initial:
        yield {"type": "ADDED", "object": obj}

    while True:
        if cutter.due():
            raise WatchCut
        with store.cond:
            now = time.monotonic()
            waits = [LIVENESS_CHECK_SECONDS, deadline - now, cutter.seconds_left()]
            if next_bookmark is not None:
                waits.append(next_bookmark - now)
            changed = store.cond.wait_for(woken, max(0.0, min(w for w in waits if w is not None)))
            if store.closed:
                return
            expired: Expired | None = None
            events: list[Event] = []
            try:
                events = store.events_after(cursor)
            except Expired as exc:  # the history moved on faster than this watch read it
                expired = exc
            cursor = store.rv
        if expired is not None:
            yield expired_event(expired)
            return
        for event in events:
            if wanted(event):
                yield {"type": event.type, "object": event.obj}
        now = time.monotonic()
        if now >= deadline:
            if interval is not None:  # a last bookmark, so the client resumes from here
                yield _bookmark(watch, cursor)
            return
        if next_bookmark is not None and interval is not None and now >= next_bookmark:
            yield _bookmark(watch, cursor)
            next_bookmark = now + interval
        if not changed and client_gone():
            return
