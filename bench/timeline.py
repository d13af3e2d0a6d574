"""Pure reading of the sandbox's records: last pod Ready, first listener change, listener gaps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

DELETE = "DeleteLoadBalancerListeners"
CREATE = "CreateLoadBalancerListeners"
COLOR_LABEL = "bluegreen.io/color"
COMMIT_LABEL = "bluegreen.io/commit"


def last_ready(events: Iterable[tuple[float, Mapping[str, str]]], color: str, commit: str) -> float:
    """When the last pod of (color, commit) turned Ready, from (time, pod labels) pairs."""
    times = [
        when
        for when, labels in events
        if labels.get(COLOR_LABEL) == color and labels.get(COMMIT_LABEL) == commit
    ]
    if not times:
        raise ValueError(f"no pod of {color} at {commit} turned Ready")
    return max(times)


def first_after(request_log: Sequence[tuple[float, str]], action: str, moment: float) -> float:
    """Arrival time of the first `action` request at or after `moment`."""
    for when, name in sorted(request_log):
        if name == action and when >= moment:
            return when
    raise ValueError(f"no {action} after {moment}")


def detection_latency(
    events: Iterable[tuple[float, Mapping[str, str]]],
    request_log: Sequence[tuple[float, str]],
    color: str,
    commit: str,
) -> float:
    """Seconds from the last new pod turning Ready to the first listener delete reaching AWS."""
    ready = last_ready(events, color, commit)
    return first_after(request_log, DELETE, ready) - ready


def listener_gaps(request_log: Sequence[tuple[float, str]]) -> list[float]:
    """Server-side gaps: the k-th listener delete's arrival to the k-th create's arrival.

    Both flows handle the public ports in the same order (80, then 443), so the k-th delete
    and the k-th create are about the same port.
    """
    ordered = sorted(request_log)
    deletes = [t for t, action in ordered if action == DELETE]
    creates = [t for t, action in ordered if action == CREATE]
    return [create - delete for delete, create in zip(deletes, creates, strict=False)]
