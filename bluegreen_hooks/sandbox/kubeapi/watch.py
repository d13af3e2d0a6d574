"""Watch streams: initial ADDED events or history replay, then live events until timeout/stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from .selectors import FieldSelector, LabelSelector
from .store import Event, Expired, Store

Obj = dict[str, Any]

# While no event arrives, check this often whether the client hung up, so abandoned watches
# do not keep a thread forever. Events themselves wake the watch at once via the Condition.
LIVENESS_CHECK_SECONDS = 2.0


def _expired_event(exc: Expired) -> Obj:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": str(exc),
            "reason": "Expired",
            "code": 410,
        },
    }


def _newer(store: Store, cursor: int) -> bool:
    return store.closed or store.rv > cursor


def stream_events(
    store: Store,
    plural: str,
    namespace: str | None,
    labels: LabelSelector,
    fields: FieldSelector,
    since: int | None,
    timeout_seconds: float | None,
    client_gone: Callable[[], bool],
) -> Iterator[Obj]:
    """Yield watch events for one resource (optionally one namespace) matching the selectors.

    `since` None means "from now, after listing current objects as ADDED"; otherwise replay
    every retained event after that resourceVersion (an ERROR 410 if it is too old). Ends
    when `timeout_seconds` pass, the store closes, or the client hangs up.
    """
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds

    def wanted(event: Event) -> bool:
        return (
            event.plural == plural
            and (namespace is None or event.namespace == namespace)
            and labels.matches(event.obj["metadata"].get("labels"))
            and fields.matches(event.obj)
        )

    with store.cond:
        if since is None:
            cursor = store.rv
            initial = [
                obj
                for obj in store.snapshots(plural, namespace)
                if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)
            ]
        else:
            cursor, initial = since, []
    for obj in initial:
        yield {"type": "ADDED", "object": obj}

    while True:
        with store.cond:
            remaining = None if deadline is None else deadline - time.monotonic()
            wait = (
                LIVENESS_CHECK_SECONDS
                if remaining is None
                else min(remaining, LIVENESS_CHECK_SECONDS)
            )
            woken = store.cond.wait_for(partial(_newer, store, cursor), max(wait, 0.0))
            if store.closed:
                return
            expired: Expired | None = None
            events: list[Event] = []
            try:
                events = store.events_after(cursor)
            except Expired as exc:
                expired = exc
            cursor = store.rv
        if expired is not None:
            yield _expired_event(expired)
            return
        for event in events:
            if wanted(event):
                yield {"type": event.type, "object": event.obj}
        if deadline is not None and time.monotonic() >= deadline:
            return
        if not woken and client_gone():
            return
