"""NodePorts that answer HTTP on the node's own loopback address, through the Service's selector
and targetPort, for the Ready pods it selects; refused when none serves."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator
from bluegreen_hooks.sandbox.kubeapi.nodeports import HttpAnswer

from .kube_helpers import new_api_client, wait_for
from .network_helpers import (
    get,
    node_address,
    ready_pods,
    service,
    wait_for_slices,
    web_deployment,
    web_pod,
)

READY = (True, True, False)
NOT_READY = (False, False, False)


@pytest.fixture
def reports() -> list[str]:
    return []


@pytest.fixture
def emulator(reports: list[str]) -> Iterator[KubeEmulator]:
    """Overrides conftest's: this one serves its NodePorts, on a loopback address of its own."""
    with KubeEmulator(
        ready_delay=0.05,
        node_address="auto",
        serve_node_ports=True,
        on_node_port_error=reports.append,
    ) as emu:
        yield emu


@pytest.fixture
def discovery(api_client: Any) -> Any:
    return client.DiscoveryV1Api(api_client)


@pytest.fixture
def node(core: Any) -> str:
    return node_address(core)


def node_port(core: Any, name: str) -> int:
    return int(core.read_namespaced_service(name, "default").spec.ports[0].node_port)


def relabel(core: Any, name: str, label: str) -> None:
    """Label a Service, and wait until the controller has passed over it (its Endpoints, which
    carry the Service's labels, show the label; NodePorts are updated in the same pass)."""
    core.patch_namespaced_service(name, "default", {"metadata": {"labels": {label: "yes"}}})
    wait_for_label(core, name, label)


def wait_for_label(core: Any, name: str, label: str) -> None:
    wait_for(
        core.list_namespaced_endpoints,
        "default",
        condition=lambda found: name in found and label in (found[name].metadata.labels or {}),
    )


def refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_node_port_answers_for_each_ready_pod_in_turn_naming_its_image(
    emulator: KubeEmulator, core: Any, apps: Any, discovery: Any, node: str
) -> None:
    apps.create_namespaced_deployment("default", web_deployment("web", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    pods = {p.metadata.name for p in ready_pods(core, "app=web", 2)}
    wait_for_slices(discovery, "web", dict.fromkeys(pods, READY))
    port = node_port(core, "web")

    answers = [get(node, port, path) for path in ("/", "/healthcheck", "/a/b?c=d", "/")]
    assert [status for status, _ in answers] == [200] * 4
    assert {body["image"] for _, body in answers} == {"acme/web:v1"}
    assert {body["pod"] for _, body in answers} == pods  # round-robin over both
    assert answers[0][1]["pod"] != answers[1][1]["pod"]
    assert [body["path"] for _, body in answers] == ["/", "/healthcheck", "/a/b?c=d", "/"]
    assert {(body["service"], body["targetPort"], body["node"]) for _, body in answers} == {
        ("default/web", 8080, node)
    }
    assert emulator.node_ports is not None and emulator.node_ports.listening == [port]

    conn = http.client.HTTPConnection(node, port, timeout=5)
    conn.request("HEAD", "/healthcheck")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("X-Sandbox-Pod") in pods
    assert response.read() == b""
    conn.close()


def test_an_unhealthy_image_is_ready_but_answers_500(
    core: Any, apps: Any, discovery: Any, node: str
) -> None:
    apps.create_namespaced_deployment(
        "default", web_deployment("web", {"app": "web"}, image="acme/web:unhealthy-v2", replicas=1)
    )
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    (pod,) = ready_pods(core, "app=web", 1)
    wait_for_slices(discovery, "web", {pod.metadata.name: READY})

    status, body = get(node, node_port(core, "web"), "/healthcheck")
    assert (status, body["image"], body["pod"]) == (500, "acme/web:unhealthy-v2", pod.metadata.name)


def test_no_ready_pod_means_connection_refused(
    core: Any, discovery: Any, node: str, emulator: KubeEmulator
) -> None:
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    core.create_namespaced_pod("default", web_pod("stuck", {"app": "web"}, "acme/web:broken"))
    wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: "stuck" in pods and pods["stuck"].status.phase == "Running",
    )
    wait_for_slices(discovery, "web", {"stuck": NOT_READY})
    assert refused(node, node_port(core, "web"))

    with pytest.raises(ConnectionRefusedError):
        get(node, node_port(core, "web"), "/healthcheck")
    assert emulator.node_ports is not None and emulator.node_ports.listening == []


def test_ready_pods_leaving_closes_the_port(
    core: Any, apps: Any, discovery: Any, node: str
) -> None:
    apps.create_namespaced_deployment("default", web_deployment("web", {"app": "web"}, replicas=1))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    (pod,) = ready_pods(core, "app=web", 1)
    wait_for_slices(discovery, "web", {pod.metadata.name: READY})
    port = node_port(core, "web")
    assert get(node, port)[0] == 200

    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 0}})
    wait_for_slices(discovery, "web", {})
    assert refused(node, port)


def test_a_target_port_no_container_listens_on_is_refused(
    core: Any, apps: Any, discovery: Any, node: str
) -> None:
    apps.create_namespaced_deployment("default", web_deployment("web", {"app": "web"}, replicas=1))
    core.create_namespaced_service("default", service("named", {"app": "web"}, "metrics"))
    core.create_namespaced_service("default", service("number", {"app": "web"}, 9090))
    core.create_namespaced_service("default", service("right", {"app": "web"}, 8080))
    (pod,) = ready_pods(core, "app=web", 1)
    wait_for_slices(discovery, "right", {pod.metadata.name: READY})
    wait_for_slices(discovery, "number", {pod.metadata.name: READY})  # endpoints, no listener

    assert get(node, node_port(core, "right"))[0] == 200
    assert refused(node, node_port(core, "named"))
    assert refused(node, node_port(core, "number"))


def test_a_service_selecting_the_wrong_pods_answers_with_their_image(
    core: Any, apps: Any, discovery: Any, node: str
) -> None:
    apps.create_namespaced_deployment(
        "default", web_deployment("blue", {"color": "blue"}, "acme/web:v1", replicas=1)
    )
    apps.create_namespaced_deployment(
        "default", web_deployment("green", {"color": "green"}, "acme/web:v2", replicas=1)
    )
    core.create_namespaced_service("default", service("green", {"color": "blue"}))  # a typo
    (blue,) = ready_pods(core, "color=blue", 1)
    ready_pods(core, "color=green", 1)
    wait_for_slices(discovery, "green", {blue.metadata.name: READY})

    status, body = get(node, node_port(core, "green"))
    assert (status, body["image"], body["pod"]) == (200, "acme/web:v1", blue.metadata.name)


def test_the_listener_follows_the_service_through_update_and_delete(
    core: Any, apps: Any, discovery: Any, node: str
) -> None:
    apps.create_namespaced_deployment(
        "default", web_deployment("blue", {"color": "blue"}, "acme/web:v1", replicas=1)
    )
    apps.create_namespaced_deployment(
        "default", web_deployment("green", {"color": "green"}, "acme/web:v2", replicas=1)
    )
    (blue,) = ready_pods(core, "color=blue", 1)
    (green,) = ready_pods(core, "color=green", 1)
    core.create_namespaced_service("default", service("web", {"color": "blue"}, node_port=30555))
    wait_for_slices(discovery, "web", {blue.metadata.name: READY})
    assert get(node, 30555)[1]["image"] == "acme/web:v1"

    core.patch_namespaced_service("web", "default", {"spec": {"selector": {"color": "green"}}})
    wait_for_slices(discovery, "web", {green.metadata.name: READY})
    assert get(node, 30555)[1]["image"] == "acme/web:v2"

    body = core.read_namespaced_service("web", "default")
    body.spec.ports[0].node_port = 30556
    body.metadata.labels["moved"] = "yes"  # shows in its Endpoints once the controller passed
    core.replace_namespaced_service("web", "default", body)
    wait_for_label(core, "web", "moved")
    assert refused(node, 30555)
    assert get(node, 30556)[1]["image"] == "acme/web:v2"

    core.delete_namespaced_service("web", "default")
    # Its slices go with it (owned); its Endpoints go in the controller's pass, which also
    # closes the listener.
    wait_for(core.list_namespaced_endpoints, "default", condition=lambda found: not found)
    assert refused(node, 30556)


def test_a_busy_node_port_is_reported_and_taken_once_free(
    emulator: KubeEmulator, core: Any, discovery: Any, node: str, reports: list[str]
) -> None:
    squatter = socket.create_server((node, 30777))
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}, node_port=30777))
    wait_for_slices(discovery, "web", {"a": READY})

    assert emulator.node_ports is not None
    assert reports == [emulator.node_ports.errors[30777]]
    assert reports[0].startswith(
        f"nodePort 30777 of service default/web: cannot listen on {node}:30777 "
        "(Address already in use)"
    )
    assert core.read_namespaced_service("web", "default").spec.ports[0].node_port == 30777
    relabel(core, "web", "again")  # tried again, still busy: not said twice

    squatter.close()
    relabel(core, "web", "free")  # any change to the Service: the controller tries again
    assert get(node, 30777)[0] == 200
    assert emulator.node_ports.errors == {}
    assert len(reports) == 1  # said once, not on every pass


def test_slow_pods_answer_late_and_answers_can_be_set_per_image(
    emulator: KubeEmulator, core: Any, discovery: Any, node: str
) -> None:
    assert emulator.node_ports is not None
    emulator.node_ports.answers["slow"] = HttpAnswer(delay=30)
    emulator.node_ports.answers["v3"] = HttpAnswer(status=503)
    core.create_namespaced_pod("default", web_pod("slow", {"app": "slow"}, "acme/web:slow"))
    core.create_namespaced_pod("default", web_pod("v3", {"app": "v3"}, "acme/web:v3"))
    core.create_namespaced_service("default", service("slow", {"app": "slow"}))
    core.create_namespaced_service("default", service("v3", {"app": "v3"}))
    wait_for_slices(discovery, "slow", {"slow": READY})
    wait_for_slices(discovery, "v3", {"v3": READY})

    with pytest.raises(TimeoutError):
        get(node, node_port(core, "slow"), "/healthcheck", timeout=0.3)
    assert get(node, node_port(core, "v3"))[0] == 503


def test_stopping_the_emulator_closes_its_node_ports_and_cuts_open_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    emu = KubeEmulator(ready_delay=0.05, node_address="auto", serve_node_ports=True).start()
    assert emu.node_ports is not None
    emu.node_ports.answers["slow"] = HttpAnswer(delay=60)
    try:
        api = new_api_client(emu.write_kubeconfig(tmp_path / "kubeconfig"))
        core: Any = client.CoreV1Api(api)
        discovery: Any = client.DiscoveryV1Api(api)
        core.create_namespaced_pod("default", web_pod("a", {"app": "web"}, "acme/web:slow"))
        core.create_namespaced_pod("default", web_pod("b", {"app": "web"}))
        core.create_namespaced_pod("default", web_pod("c", {"app": "web"}))
        core.create_namespaced_service("default", service("web", {"app": "web"}, node_port=30600))
        wait_for_slices(discovery, "web", {"a": READY, "b": READY, "c": READY})
        api.close()
        # Connections take the pods in turn: a (slow), b, c.
        slow = socket.create_connection((emu.node_address, 30600), timeout=2)
        slow.sendall(b"GET / HTTP/1.0\r\n\r\n")  # answered after 60 s, unless the node stops
        idle = socket.create_connection((emu.node_address, 30600), timeout=2)
        idle.sendall(b"GET / HTTP/1.0\r\n")  # the headers never end
        # Answered, so both connections before it were accepted (in order) and are open.
        assert get(emu.node_address, 30600)[1]["pod"] == "c"
    finally:
        emu.stop()
    for conn in (slow, idle):
        # Cut at once (closed, or reset as unread bytes are dropped); waiting would time out.
        with contextlib.suppress(ConnectionResetError):
            assert conn.recv(100) == b""
        conn.close()
    assert refused(emu.node_address, 30600)


def test_any_method_and_body_is_answered_and_requests_in_parallel_each_get_theirs(
    core: Any, discovery: Any, node: str
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    wait_for_slices(discovery, "web", {"a": READY})
    port = node_port(core, "web")

    conn = http.client.HTTPConnection(node, port, timeout=5)
    conn.request("POST", "/hook", body=b'{"x": 1}', headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["method"]) == (200, "POST")
    conn.close()
    garbled = socket.create_connection((node, port), timeout=5)
    garbled.sendall(b"PUT / HTTP/1.0\r\nContent-Length: lots\r\n\r\n")
    assert garbled.recv(100).startswith(b"HTTP/1.0 200 ")
    garbled.close()

    with ThreadPoolExecutor(16) as pool:
        paths = [f"/{i}" for i in range(32)]
        answers = list(pool.map(lambda path: get(node, port, path), paths))
    assert [(status, body["path"]) for status, body in answers] == [(200, p) for p in paths]


def test_emulators_side_by_side_serve_the_same_node_port_each_for_its_own_pods(
    emulator: KubeEmulator, core: Any, discovery: Any, node: str, tmp_path: Path
) -> None:
    core.create_namespaced_pod("default", web_pod("mine", {"app": "web"}, "acme/web:mine"))
    core.create_namespaced_service("default", service("web", {"app": "web"}, node_port=30001))
    with KubeEmulator(ready_delay=0.05, node_address="auto", serve_node_ports=True) as other:
        api = new_api_client(other.write_kubeconfig(tmp_path / "other"))
        other_core: Any = client.CoreV1Api(api)
        other_core.create_namespaced_pod("default", web_pod("theirs", {"app": "web"}, "x:theirs"))
        other_core.create_namespaced_service(
            "default", service("web", {"app": "web"}, node_port=30001)
        )
        wait_for_slices(client.DiscoveryV1Api(api), "web", {"theirs": READY})
        wait_for_slices(discovery, "web", {"mine": READY})
        other_node = node_address(other_core)
        api.close()

        assert other_node != node
        assert get(node, 30001)[1]["pod"] == "mine"
        assert get(other_node, 30001)[1]["pod"] == "theirs"


def test_a_pod_turning_unready_stops_answering_and_its_peer_takes_every_request(
    core: Any, discovery: Any, node: str
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_pod("default", web_pod("b", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    wait_for_slices(discovery, "web", {"a": READY, "b": READY})
    port = node_port(core, "web")
    assert {get(node, port)[1]["pod"] for _ in range(2)} == {"a", "b"}

    unready = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    core.patch_namespaced_pod_status("a", "default", unready)
    wait_for_slices(discovery, "web", {"a": NOT_READY, "b": READY})
    assert [get(node, port)[1]["pod"] for _ in range(3)] == ["b"] * 3

    core.patch_namespaced_pod_status("b", "default", unready)
    wait_for_slices(discovery, "web", {"a": NOT_READY, "b": NOT_READY})
    assert refused(node, port)


def test_only_node_ports_listen_and_each_port_of_a_service_on_its_own(
    emulator: KubeEmulator, core: Any, discovery: Any, node: str
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    inside = service("inside", {"app": "web"}, kind="ClusterIP")
    core.create_namespaced_service("default", inside)
    two = service("two", {"app": "web"}, node_port=30701)
    two["spec"]["ports"].append(
        {"name": "admin", "port": 9, "targetPort": "admin", "nodePort": 30702}
    )
    core.create_namespaced_service("default", two)
    wait_for_slices(discovery, "inside", {"a": READY})
    wait_for_slices(discovery, "two", {"a": READY})

    assert emulator.node_ports is not None and emulator.node_ports.listening == [30701]
    assert get(node, 30701)[1]["targetPort"] == 8080
    assert refused(node, 30702)  # `admin` names no port of the pod's container
