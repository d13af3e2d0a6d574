"""Following a collection by list-then-watch, the way client-go's reflector does.

One loop for every watch the product makes (workloads, pods, the lock's Lease): read the
objects (a list, or a get), then watch from that resourceVersion with bookmarks, so the version
stays fresh even while nothing we watch changes. A watch the server ends (its timeout) or that
breaks off (a dropped connection, a 5xx ERROR event) resumes from the last version seen; one
whose history was compacted (410 Gone) reads the objects again. Only when the connection keeps
failing at once, MAX_ATTEMPTS times in a row without an event, does it give up with a clear
error; a watch that broke after an event or after a healthy while starts the count again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

from kubernetes.client.exceptions import ApiException

from bluegreen_hooks.errors import DeployFailed
from bluegreen_hooks.kube_rest import (
    MAX_ATTEMPTS,
    Object,
    Rest,
    WatchError,
    WatchInterrupted,
    backoff,
)
from bluegreen_hooks.logs import get_logger

# What a read returns: the objects by name, and the resourceVersion to watch from.
Listing = tuple[dict[str, Object], str]
# Statuses of an ERROR event worth resuming after (a failed request was retried already).
_RESUMABLE = frozenset({429, 500, 502, 503, 504})
# A watch that stayed open this long before it broke was working: its drop starts a new count.
HEALTHY_WATCH_SECONDS = 1.0


def list_collection(rest: Rest, collection: str, **selector: str) -> Listing:
    """A Lister: the collection's matching objects, and the list's resourceVersion."""
    listing = rest.get(collection, **selector)
    items = {i["metadata"]["name"]: i for i in listing.get("items") or []}
    return items, str(listing["metadata"]["resourceVersion"])


def follow(
    rest: Rest,
    collection: str,
    deadline: float,
    read: Callable[[], Listing],
    *,
    what: str,
    **selector: str,
) -> Iterator[list[Object]]:
    """The matching objects now (from `read`), then again after each change, until the deadline.

    `what` names the watched thing in log lines and errors (e.g. `ReplicationController web`).
    """
    failures = 0  # consecutive watches that broke early, without an event
    while True:
        items, version = read()
        yield list(items.values())
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                opened = time.monotonic()
                try:
                    for event in rest.watch(
                        collection,
                        timeout_seconds=max(1, math.ceil(remaining)),
                        resourceVersion=version,
                        allowWatchBookmarks=True,
                        **selector,
                    ):
                        failures = 0
                        obj = event["object"]
                        version = str(obj["metadata"].get("resourceVersion") or version)
                        if event["type"] == "BOOKMARK":
                            continue
                        if event["type"] == "DELETED":
                            items.pop(obj["metadata"]["name"], None)
                        else:
                            items[obj["metadata"]["name"]] = obj
                        yield list(items.values())
                        if time.monotonic() >= deadline:
                            return
                except WatchInterrupted as exc:
                    failures = _failed(failures, opened)
                    _resume(what, version, failures, str(exc))
                except WatchError as exc:
                    if exc.status not in _RESUMABLE:
                        raise
                    failures = _failed(failures, opened)
                    _resume(what, version, failures, f"HTTP {exc.status} {exc.reason}")
            return
        except ApiException as exc:
            if exc.status != 410:
                raise
            get_logger().info(
                "watch history expired; reading again", watching=what, resource_version=version
            )


def _failed(failures: int, opened: float) -> int:
    """The count of consecutive failures, this one included."""
    return 1 if time.monotonic() - opened >= HEALTHY_WATCH_SECONDS else failures + 1


def _resume(what: str, version: str, failures: int, why: str) -> None:
    """Log and back off before watching again; give up after MAX_ATTEMPTS in a row."""
    if failures >= MAX_ATTEMPTS:
        raise DeployFailed(
            f"watching {what}: the watch broke off {failures} times in a row, each time "
            f"before any event (last: {why})",
            hint="check the Kubernetes API server and the network to it, then rerun",
        )
    get_logger().warning(
        "watch connection dropped; resuming", watching=what, resource_version=version, error=why
    )
    if failures > 1:  # broke again before any event: back off
        time.sleep(backoff(failures - 1))
