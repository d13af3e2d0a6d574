"""Watches like a server's, through the official client: the server's own watch limit,
bookmarks, history compaction (410 Gone for watches and lists), and cutting watches."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import new_watch, pod_body, status_body


def raw_events(response: Any) -> Iterator[dict[str, Any]]:
    """Decoded events of a watch opened with `_preload_content=False`, until it ends."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def open_pod_watch(core: Any, **options: Any) -> Any:
    """A raw pod watch through the official client (every event, BOOKMARK and ERROR too)."""
    return core.list_namespaced_pod("default", watch=True, _preload_content=False, **options)


def current_version(core: Any) -> str:
    return str(core.list_namespaced_pod("default").metadata.resource_version)


# --- the server's own limit -----------------------------------------------------------------


def test_the_server_ends_a_watch_at_its_own_limit_before_the_clients_timeout(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.max_watch_seconds = 0.2
    started = time.monotonic()
    events = list(
        new_watch().stream(
            core.list_namespaced_pod,
            "default",
            resource_version=current_version(core),
            timeout_seconds=120,
        )
    )
    assert events == []  # a clean end of stream, no error
    assert time.monotonic() - started < 60  # not the client's 120 s


def test_a_watch_without_timeout_seconds_ends_too(emulator: KubeEmulator, core: Any) -> None:
    emulator.max_watch_seconds = 0.1
    response = open_pod_watch(core, resource_version=current_version(core))
    assert list(raw_events(response)) == []


def test_a_shorter_client_timeout_wins(emulator: KubeEmulator, core: Any) -> None:
    emulator.max_watch_seconds = 3600
    response = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=1)
    assert list(raw_events(response)) == []


# --- bookmarks ------------------------------------------------------------------------------


def test_bookmarks_carry_only_the_version_and_follow_unrelated_writes(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.bookmark_seconds = 0.05
    response = open_pod_watch(
        core, resource_version=current_version(core), allow_watch_bookmarks=True, timeout_seconds=30
    )
    events = raw_events(response)
    first = next(events)
    assert first["type"] == "BOOKMARK"
    assert first["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": first["object"]["metadata"]["resourceVersion"]},
    }
    service = core.create_namespaced_service(  # not a pod: the watch sees no event for it
        "default", {"metadata": {"name": "unrelated"}, "spec": {"ports": [{"port": 80}]}}
    )
    written = int(service.metadata.resource_version)
    for event in events:
        assert event["type"] == "BOOKMARK"
        if int(event["object"]["metadata"]["resourceVersion"]) >= written:
            break
    response.close()


def test_a_last_bookmark_as_the_watch_times_out(emulator: KubeEmulator, core: Any) -> None:
    emulator.bookmark_seconds = 3600  # no periodic ones: only the one at the end
    emulator.ready_delay = 3600  # the pod stays as created: no MODIFIED event
    core.create_namespaced_pod("default", pod_body("p"))
    response = open_pod_watch(core, allow_watch_bookmarks=True, timeout_seconds=1)
    events = list(raw_events(response))
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) >= int(
        events[0]["object"]["metadata"]["resourceVersion"]
    )


def test_no_bookmarks_unless_asked(emulator: KubeEmulator, core: Any) -> None:
    emulator.bookmark_seconds = 0.01
    response = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=1)
    assert list(raw_events(response)) == []


def test_the_clients_watch_resumes_from_a_bookmark(emulator: KubeEmulator, core: Any) -> None:
    emulator.bookmark_seconds = 0.05
    watch = new_watch()
    start = current_version(core)
    core.create_namespaced_service(
        "default", {"metadata": {"name": "unrelated"}, "spec": {"ports": [{"port": 80}]}}
    )
    for _ in watch.stream(
        core.list_namespaced_pod,
        "default",
        resource_version=start,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    ):
        pass
    assert int(watch.resource_version) > int(start)  # the client kept the bookmark's version


# --- compaction -----------------------------------------------------------------------------


def test_a_watch_from_a_compacted_version_gets_an_expired_status(
    emulator: KubeEmulator, core: Any
) -> None:
    old = current_version(core)
    core.create_namespaced_pod("default", pod_body("p"))
    emulator.compact_history()
    response = open_pod_watch(core, resource_version=old, timeout_seconds=5)
    events = list(raw_events(response))
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {old} (")

    with pytest.raises(client.ApiException) as gone:  # the client's Watch raises it
        for _ in new_watch().stream(
            core.list_namespaced_pod, "default", resource_version=old, timeout_seconds=5
        ):
            pass
    assert gone.value.status == 410


def test_a_watch_from_the_compacted_version_itself_goes_on(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.ready_delay = 3600  # the pod stays as created: no MODIFIED event
    core.create_namespaced_pod("default", pod_body("p"))
    now = str(emulator.compact_history())
    stream = new_watch().stream(
        core.list_namespaced_pod, "default", resource_version=now, timeout_seconds=5
    )
    core.create_namespaced_pod("default", pod_body("q"))
    event = next(stream)
    assert (event["type"], event["object"].metadata.name) == ("ADDED", "q")
    stream.close()


def test_events_older_than_the_history_window_are_compacted(
    emulator: KubeEmulator, core: Any
) -> None:
    old = current_version(core)
    emulator.history_seconds = 0  # every event is compacted as soon as the next one comes
    core.create_namespaced_pod("default", pod_body("p"))
    core.create_namespaced_pod("default", pod_body("q"))
    with pytest.raises(client.ApiException) as gone:
        for _ in new_watch().stream(
            core.list_namespaced_pod, "default", resource_version=old, timeout_seconds=5
        ):
            pass
    assert gone.value.status == 410


def test_a_continue_token_from_before_compaction_gets_410(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.ready_delay = 3600
    for name in ("a", "b", "c"):
        core.create_namespaced_pod("default", pod_body(name))
    first = core.list_namespaced_pod("default", limit=2)
    assert [p.metadata.name for p in first.items] == ["a", "b"]
    second = core.list_namespaced_pod("default", limit=2, _continue=first.metadata._continue)
    assert [p.metadata.name for p in second.items] == ["c"]
    assert second.metadata.resource_version == first.metadata.resource_version

    core.create_namespaced_pod("default", pod_body("d"))
    emulator.compact_history()
    with pytest.raises(client.ApiException) as gone:
        core.list_namespaced_pod("default", limit=2, _continue=first.metadata._continue)
    body = status_body(gone.value)
    assert (gone.value.status, body["reason"]) == (410, "Expired")
    assert "continue parameter is too old" in body["message"]


def test_a_garbled_continue_token_is_a_bad_request(core: Any) -> None:
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_pod("default", limit=1, _continue="not-a-token")
    assert (bad.value.status, status_body(bad.value)["reason"]) == (400, "BadRequest")


def test_an_exact_list_at_a_compacted_version_gets_410(emulator: KubeEmulator, core: Any) -> None:
    old = current_version(core)
    core.create_namespaced_pod("default", pod_body("p"))
    exact = core.list_namespaced_pod(
        "default", resource_version=old, resource_version_match="Exact"
    )
    assert exact.kind == "PodList"
    emulator.compact_history()
    with pytest.raises(client.ApiException) as gone:
        core.list_namespaced_pod("default", resource_version=old, resource_version_match="Exact")
    assert (gone.value.status, status_body(gone.value)["reason"]) == (410, "Expired")
    # NotOlderThan is served from the current state whatever the history
    newer = core.list_namespaced_pod(
        "default", resource_version=old, resource_version_match="NotOlderThan"
    )
    assert [p.metadata.name for p in newer.items] == ["p"]


# --- cutting watches ------------------------------------------------------------------------


def test_cut_open_watches_breaks_an_idle_watch_at_once(emulator: KubeEmulator, core: Any) -> None:
    response = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=60)
    emulator.faults.cut_open_watches()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        list(raw_events(response))
    assert emulator.faults.injected["watch cut"] == 1
    later = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=1)
    assert list(raw_events(later)) == []  # a watch opened afterwards is not cut


def test_cut_watches_after_seconds_and_only_so_many_times(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.faults.cut_watches(after_events=None, after_seconds=0.05, times=2)
    for _ in range(2):
        response = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=60)
        with pytest.raises(urllib3.exceptions.ProtocolError):
            list(raw_events(response))
    assert emulator.faults.injected["watch cut"] == 2
    response = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=1)
    assert list(raw_events(response)) == []  # the third one ends cleanly


def test_cut_watches_needs_events_or_seconds() -> None:
    faults = KubeEmulator().faults
    with pytest.raises(ValueError, match="events, some seconds"):
        faults.cut_watches(after_events=None)
    with pytest.raises(ValueError, match="negative"):
        faults.cut_watches(after_seconds=-1)


@pytest.mark.parametrize(("code", "reason"), [(410, "Expired"), (500, "InternalError")])
def test_cut_watches_with_an_error_ends_the_stream_with_an_error_event(
    emulator: KubeEmulator, core: Any, code: int, reason: str
) -> None:
    emulator.ready_delay = 3600
    emulator.faults.cut_watches(after_events=1, error=code, times=1)
    response = open_pod_watch(core, resource_version=current_version(core), timeout_seconds=30)
    core.create_namespaced_pod("default", pod_body("p"))
    events = list(raw_events(response))  # a clean end of stream: no ProtocolError
    assert [e["type"] for e in events] == ["ADDED", "ERROR"]
    status = events[1]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", code, reason)
    assert emulator.faults.injected[f"watch error {code}"] == 1
