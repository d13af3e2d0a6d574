"""Watches through `kubernetes.watch.Watch`: resume from a list, filters, timeouts, 410, stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import is_model, new_api_client, new_watch, pod_body


def test_watch_from_list_resource_version_sees_later_events(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.ready_delay = 60  # no status updates in between: the event sequence is exact
    core.create_namespaced_pod("default", pod_body("before", {"app": "web"}))
    listing = core.list_namespaced_pod("default", label_selector="app=web")
    core.create_namespaced_pod("default", pod_body("after", {"app": "web"}))
    core.create_namespaced_pod("default", pod_body("other", {"app": "db"}))
    core.delete_namespaced_pod("after", "default", grace_period_seconds=0)  # no MODIFIED first

    seen: list[tuple[str, str]] = []
    stream = new_watch().stream(
        core.list_namespaced_pod,
        "default",
        label_selector="app=web",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=5,
    )
    for event in stream:
        assert is_model(event["object"], client.V1Pod)
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    stream.close()
    # "before" is not replayed (it predates the list); "other" does not match the selector.
    assert seen == [("ADDED", "after"), ("DELETED", "after")]


def test_watch_without_resource_version_starts_with_current_objects(
    core: Any,
) -> None:
    core.create_namespaced_pod("default", pod_body("a"))
    core.create_namespaced_pod("default", pod_body("b"))
    w = new_watch()
    added = []
    for event in w.stream(core.list_namespaced_pod, "default", timeout_seconds=5):
        if event["type"] == "ADDED":
            added.append(event["object"].metadata.name)
        if len(added) == 2:
            w.stop()
    assert sorted(added) == ["a", "b"]


def test_watch_timeout_ends_stream(emulator: KubeEmulator, core: Any) -> None:
    emulator.reset_counters()
    started = time.monotonic()
    events = list(
        new_watch().stream(
            core.list_namespaced_service,
            "default",
            resource_version=core.list_namespaced_service("default").metadata.resource_version,
            timeout_seconds=1,
        )
    )
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 3
    assert emulator.requests_by_verb == {"GET": 1, "WATCH": 1}


def test_expired_resource_version_gives_410(tmp_path: Path) -> None:
    with KubeEmulator(history_size=3) as emu:
        api = new_api_client(emu.write_kubeconfig(tmp_path / "kc"))
        core: Any = client.CoreV1Api(api)
        old = core.list_namespaced_service("default").metadata.resource_version
        for i in range(5):
            core.create_namespaced_service(
                "default", {"metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}}
            )
        with pytest.raises(client.ApiException) as gone:
            for _ in new_watch().stream(
                core.list_namespaced_service, "default", resource_version=old, timeout_seconds=5
            ):
                pass
        assert gone.value.status == 410
        assert "Expired" in str(gone.value.reason)
        api.close()


def test_watch_all_namespaces_and_namespaces_themselves(core: Any) -> None:
    rv = core.list_namespace().metadata.resource_version
    core.create_namespace({"metadata": {"name": "blue"}})
    core.create_namespaced_pod("blue", pod_body("p"))
    ns_events = new_watch().stream(core.list_namespace, resource_version=rv, timeout_seconds=5)
    first = next(ns_events)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "blue")
    ns_events.close()
    pod_events = new_watch().stream(
        core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=5
    )
    first = next(pod_events)
    assert (first["type"], first["object"].metadata.namespace) == ("ADDED", "blue")
    pod_events.close()


def test_stop_closes_open_watch_promptly(tmp_path: Path) -> None:
    emu = KubeEmulator().start()
    api = new_api_client(emu.write_kubeconfig(tmp_path / "kc"))
    core: Any = client.CoreV1Api(api)
    rv = core.list_namespaced_pod("default").metadata.resource_version
    streaming = threading.Event()
    outcome: dict[str, Any] = {"events": []}

    def consume() -> None:
        try:
            for event in new_watch().stream(
                core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=60
            ):
                outcome["events"].append(event["type"])
                streaming.set()
        except Exception as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    consumer = threading.Thread(target=consume)
    consumer.start()
    core.create_namespaced_pod("default", pod_body("p"))
    assert streaming.wait(5)  # the watch delivered an event, so its stream is open
    started = time.monotonic()
    emu.stop()
    consumer.join(5)
    assert not consumer.is_alive()
    assert time.monotonic() - started < 2
    assert "error" not in outcome
    assert outcome["events"][0] == "ADDED"
    emu.stop()  # idempotent
    api.close()
