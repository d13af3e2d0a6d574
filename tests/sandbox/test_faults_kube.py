"""KubeFaults in the emulated API: transient errors, refusals, cut watches, kill points, clear."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import pod_body, status_body


def test_transient_faults_answer_500_and_429_with_retry_after(emulator: KubeEmulator) -> None:
    emulator.faults.transient(1.0, statuses=(500, 429), seed=3, retry_after=2)
    http = urllib3.PoolManager(retries=False)  # the client's urllib3 would retry 429s itself
    seen: dict[int, Any] = {}
    for _ in range(12):
        response = http.request("GET", emulator.url + "/api/v1/namespaces/default/pods")
        seen[response.status] = response
    assert set(seen) == {500, 429}
    assert json.loads(seen[429].data)["reason"] == "TooManyRequests"
    assert seen[429].headers["Retry-After"] == "2"
    assert json.loads(seen[500].data)["reason"] == "InternalError"
    assert emulator.faults.injected["500"] + emulator.faults.injected["429"] == 12


def test_a_transient_fault_is_never_handled(emulator: KubeEmulator, core: Any) -> None:
    emulator.faults.transient(1.0, statuses=(500,))
    with pytest.raises(client.ApiException):
        core.create_namespaced_pod("default", pod_body("never"))
    emulator.faults.clear()
    assert core.list_namespaced_pod("default").items == []


def test_a_share_of_requests_fails(emulator: KubeEmulator, core: Any) -> None:
    emulator.faults.transient(0.25, statuses=(500, 503), seed=11)
    failures = 0
    for _ in range(40):
        try:
            core.list_namespaced_pod("default")
        except client.ApiException:
            failures += 1
    assert failures == sum(emulator.faults.injected.values())
    assert 0 < failures < 40


def test_refuse_is_permanent_and_only_for_matching_requests(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.faults.refuse("POST", "/services")
    for _ in range(2):
        with pytest.raises(client.ApiException) as failure:
            core.create_namespaced_service(
                "default", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
            )
        body = status_body(failure.value)
        assert failure.value.status == 403
        assert body["reason"] == "Forbidden"
        assert 'cannot create resource "services"' in body["message"]
    assert core.list_namespaced_service("default").items == []  # a GET is not refused
    core.create_namespaced_pod("default", pod_body("fine"))  # another resource is not either
    assert emulator.faults.injected["refused 403"] == 2


def test_after_calls_back_once_the_object_exists_before_the_client_hears(
    emulator: KubeEmulator, core: Any
) -> None:
    names: list[list[str]] = []

    def look() -> None:
        names.append(sorted(p.metadata.name for p in core.list_namespaced_pod("default").items))

    emulator.faults.after("POST", "/pods", look, nth=2)
    core.create_namespaced_pod("default", pod_body("one"))
    assert names == []
    core.create_namespaced_pod("default", pod_body("two"))
    assert names == [["one", "two"]]
    core.create_namespaced_pod("default", pod_body("three"))
    assert len(names) == 1


def test_after_a_watch_starts(emulator: KubeEmulator, core: Any) -> None:
    started: list[str] = []
    emulator.faults.after("WATCH", "/pods", lambda: started.append("watch"))
    core.list_namespaced_pod("default")  # a list is not a watch
    assert started == []
    stream = _raw_watch(emulator, "/api/v1/namespaces/default/pods", timeout_seconds=1)
    assert started == ["watch"]
    stream.release_conn()


def _raw_watch(emulator: KubeEmulator, path: str, *, timeout_seconds: int) -> Any:
    fields = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
    return urllib3.PoolManager().request(
        "GET", emulator.url + path, fields=fields, preload_content=False
    )


def _read_events(response: Any) -> list[str]:
    """Event names read from a watch until it ends; raises if the connection breaks."""
    names: list[str] = []
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                names.append(json.loads(line)["object"]["metadata"]["name"])
    return names


def test_cut_watches_break_the_connection_after_some_events(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.ready_delay = 60  # no status updates: exactly one event per pod
    for name in ("a", "b", "c"):
        core.create_namespaced_pod("default", pod_body(name))
    emulator.faults.cut_watches(after_events=2)
    response = _raw_watch(emulator, "/api/v1/namespaces/default/pods", timeout_seconds=5)
    names: list[str] = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        names = _read_events(response)
    assert emulator.faults.injected["watch cut"] == 1

    emulator.faults.clear()  # and once cleared, a watch ends cleanly at its timeout
    response = _raw_watch(emulator, "/api/v1/namespaces/default/pods", timeout_seconds=1)
    names = _read_events(response)
    assert names == ["a", "b", "c"]


def test_cut_watches_reaches_a_watch_that_is_already_open(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.ready_delay = 60
    response = _raw_watch(emulator, "/api/v1/namespaces/default/pods", timeout_seconds=10)
    core.create_namespaced_pod("default", pod_body("before-cut"))
    emulator.faults.cut_watches(after_events=1)
    core.create_namespaced_pod("default", pod_body("after-cut"))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        _read_events(response)
    assert emulator.faults.injected["watch cut"] == 1


def test_cut_watches_needs_at_least_one_event() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        KubeEmulator().faults.cut_watches(after_events=0)


def test_drop_response_handles_the_request_but_never_answers(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.faults.drop_response("POST", "/pods")
    http = urllib3.PoolManager(retries=False)
    body = json.dumps(pod_body("landed"))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        http.request("POST", emulator.url + "/api/v1/namespaces/default/pods", body=body)
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["landed"]
    again = http.request("POST", emulator.url + "/api/v1/namespaces/default/pods", body=body)
    assert again.status == 409  # only once: the next one is answered
    assert emulator.faults.injected["response dropped"] == 1


def test_drop_response_mid_body_sends_headers_then_half_the_body(
    emulator: KubeEmulator, core: Any
) -> None:
    core.create_namespaced_pod("default", pod_body("p"))
    emulator.faults.drop_response("GET", "/pods", mid_body=True)
    http = urllib3.PoolManager(retries=False)
    response = http.request(
        "GET", emulator.url + "/api/v1/namespaces/default/pods", preload_content=False
    )
    assert response.status == 200  # the status line and headers arrived
    with pytest.raises(urllib3.exceptions.ProtocolError, match="IncompleteRead"):
        response.read()
    assert emulator.faults.injected["response cut"] == 1
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["p"]
