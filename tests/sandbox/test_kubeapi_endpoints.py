"""Endpoints and EndpointSlices: kept by the controller from selectors, targetPort and pod
readiness, read, listed and watched through the official client; and the node they name."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import new_api_client, new_watch, rc_body, status_body, wait_for
from .network_helpers import (
    SERVICE_NAME,
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
def discovery(api_client: Any) -> Any:
    return client.DiscoveryV1Api(api_client)


def endpoints_by_pod(endpoints: Any) -> dict[str, tuple[str, int | None, bool]]:
    """Pod name -> (ip, port, ready) over every subset of an Endpoints object."""
    found = {}
    for subset in endpoints.subsets or []:
        ports = [p.port for p in subset.ports or []]
        port = ports[0] if ports else None
        for address in subset.addresses or []:
            found[address.target_ref.name] = (address.ip, port, True)
        for address in subset.not_ready_addresses or []:
            found[address.target_ref.name] = (address.ip, port, False)
    return found


def wait_for_endpoints(
    core: Any, name: str, expected: dict[str, tuple[str, int | None, bool]]
) -> Any:
    """Watch the Service's Endpoints until they hold exactly `expected`."""
    found = wait_for(
        core.list_namespaced_endpoints,
        "default",
        field_selector=f"metadata.name={name}",
        condition=lambda items: name in items and endpoints_by_pod(items[name]) == expected,
    )
    return found[name]


def ip(core: Any, pod: str) -> str:
    """The pod's IP, once it has one (it is Pending until the controller starts it)."""
    pods = wait_for(
        core.list_namespaced_pod,
        "default",
        field_selector=f"metadata.name={pod}",
        condition=lambda found: pod in found and found[pod].status.pod_ip is not None,
    )
    return str(pods[pod].status.pod_ip)


def test_ready_pods_are_addresses_and_unready_ones_not_ready_addresses(
    core: Any, apps: Any, discovery: Any
) -> None:
    apps.create_namespaced_deployment("default", web_deployment("web", {"app": "web"}))
    core.create_namespaced_pod(
        "default", web_pod("stuck", {"app": "web", "extra": "x"}, "acme/broken")
    )
    svc = core.create_namespaced_service("default", service("web", {"app": "web"}))
    first, second = ready_pods(core, "app=web,!extra", 2)

    endpoints = wait_for_endpoints(
        core,
        "web",
        {
            first.metadata.name: (first.status.pod_ip, 8080, True),
            second.metadata.name: (second.status.pod_ip, 8080, True),
            "stuck": (ip(core, "stuck"), 8080, False),
        },
    )
    (subset,) = endpoints.subsets
    assert [(p.name, p.port, p.protocol) for p in subset.ports] == [("http", 8080, "TCP")]
    assert {a.node_name for a in subset.addresses} == {"sandbox-node"}
    assert {a.target_ref.kind for a in subset.addresses} == {"Pod"}
    assert endpoints.metadata.labels["team"] == "web"  # the Service's labels, as the real one

    slices = wait_for_slices(
        discovery,
        "web",
        {first.metadata.name: READY, second.metadata.name: READY, "stuck": NOT_READY},
    )
    (piece,) = slices.values()
    assert piece.address_type == "IPv4"
    assert piece.metadata.name.startswith("web-")
    assert piece.metadata.labels[SERVICE_NAME] == "web"
    assert piece.metadata.labels["endpointslice.kubernetes.io/managed-by"] == (
        "endpointslice-controller.k8s.io"
    )
    (owner,) = piece.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Service",
        "web",
        svc.metadata.uid,
        True,
    )
    assert [(p.name, p.port, p.protocol) for p in piece.ports] == [("http", 8080, "TCP")]
    endpoint = next(e for e in piece.endpoints if e.target_ref.name == first.metadata.name)
    assert endpoint.addresses == [first.status.pod_ip]
    assert endpoint.node_name == "sandbox-node"
    assert endpoint.target_ref.uid == first.metadata.uid


def test_endpoints_follow_readiness_from_pending_to_ready_and_pod_deletion(
    emulator: KubeEmulator, core: Any, discovery: Any
) -> None:
    emulator.ready_delay = 0.3
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    # Pending, it has no IP yet: a placeholder slice with no endpoint, no addresses.
    wait_for_slices(discovery, "web", {})
    assert endpoints_by_pod(core.read_namespaced_endpoints("web", "default")) == {}

    wait_for_slices(discovery, "web", {"a": READY})
    wait_for_endpoints(core, "web", {"a": (ip(core, "a"), 8080, True)})

    core.delete_namespaced_pod("a", "default")
    wait_for_slices(discovery, "web", {})
    wait_for_endpoints(core, "web", {})
    assert core.read_namespaced_endpoints("web", "default").subsets is None


def test_endpoints_follow_selector_changes_and_pod_labels(
    core: Any, apps: Any, discovery: Any
) -> None:
    apps.create_namespaced_deployment(
        "default", web_deployment("blue", {"app": "web", "color": "blue"}, replicas=1)
    )
    apps.create_namespaced_deployment(
        "default", web_deployment("green", {"app": "web", "color": "green"}, replicas=1)
    )
    core.create_namespaced_service("default", service("web", {"app": "web", "color": "blue"}))
    (blue,) = ready_pods(core, "color=blue", 1)
    (green,) = ready_pods(core, "color=green", 1)
    wait_for_slices(discovery, "web", {blue.metadata.name: READY})

    core.patch_namespaced_service("web", "default", {"spec": {"selector": {"color": "green"}}})
    wait_for_slices(discovery, "web", {green.metadata.name: READY})
    wait_for_endpoints(core, "web", {green.metadata.name: (green.status.pod_ip, 8080, True)})

    # A label change on a pod moves it in and out, as a selector change does.
    core.patch_namespaced_pod(
        blue.metadata.name, "default", {"metadata": {"labels": {"color": "green"}}}
    )
    wait_for_slices(discovery, "web", {green.metadata.name: READY, blue.metadata.name: READY})


def test_named_target_port_resolves_per_pod_and_splits_subsets_and_slices(
    core: Any, discovery: Any
) -> None:
    core.create_namespaced_pod("default", web_pod("on8080", {"app": "web"}))
    core.create_namespaced_pod(
        "default",
        web_pod("on9090", {"app": "web"}, ports=[{"name": "http", "containerPort": 9090}]),
    )
    core.create_namespaced_pod(
        "default",
        web_pod("unnamed", {"app": "web"}, ports=[{"name": "metrics", "containerPort": 8080}]),
    )
    core.create_namespaced_service("default", service("web", {"app": "web"}, target_port="http"))
    ready_pods(core, "app=web", 3)

    slices = wait_for_slices(discovery, "web", {"on8080": READY, "on9090": READY})
    ports = sorted(
        (piece.ports[0].port, [e.target_ref.name for e in piece.endpoints])
        for piece in slices.values()
    )
    assert ports == [(8080, ["on8080"]), (9090, ["on9090"])]
    endpoints = wait_for_endpoints(
        core,
        "web",
        {
            "on8080": (ip(core, "on8080"), 8080, True),
            "on9090": (ip(core, "on9090"), 9090, True),
        },
    )
    assert len(endpoints.subsets) == 2


def test_numeric_target_port_is_taken_as_is(core: Any, discovery: Any) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}, ports=[]))
    core.create_namespaced_service("default", service("web", {"app": "web"}, target_port=7000))
    ready_pods(core, "app=web", 1)
    slices = wait_for_slices(discovery, "web", {"a": READY})
    assert [p.port for piece in slices.values() for p in piece.ports] == [7000]


def test_a_service_without_selector_gets_none_and_its_own_endpoints_stay(
    core: Any, discovery: Any
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("external", None))
    manual = {
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 5432}]}],
    }
    core.create_namespaced_endpoints("default", manual)
    # A second Service, created after: once its slice shows, the controller has passed over
    # the first one too.
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    wait_for_slices(discovery, "web", {"a": READY})

    kept = core.read_namespaced_endpoints("external", "default")
    assert [a.ip for a in kept.subsets[0].addresses] == ["10.1.2.3"]
    none = discovery.list_namespaced_endpoint_slice(
        "default", label_selector=f"{SERVICE_NAME}=external"
    )
    assert none.items == []


def test_removing_the_selector_or_the_service_removes_what_the_controller_made(
    core: Any, discovery: Any
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    core.create_namespaced_service("default", service("other", {"app": "web"}))
    wait_for_slices(discovery, "web", {"a": READY})
    wait_for_slices(discovery, "other", {"a": READY})

    core.delete_namespaced_service("web", "default")
    wait_for(
        discovery.list_namespaced_endpoint_slice,
        "default",
        label_selector=f"{SERVICE_NAME}=web",
        condition=lambda slices: not slices,
    )
    wait_for(core.list_namespaced_endpoints, "default", condition=lambda e: "web" not in e)

    body = core.read_namespaced_service("other", "default")
    body.spec.selector = None
    core.replace_namespaced_service("other", "default", body)
    wait_for(core.list_namespaced_endpoints, "default", condition=lambda e: "other" not in e)
    assert discovery.list_namespaced_endpoint_slice("default").items == []


def test_a_service_recreated_under_the_same_name_gets_fresh_slices(
    core: Any, discovery: Any
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    (old,) = wait_for_slices(discovery, "web", {"a": READY}).values()
    core.delete_namespaced_service("web", "default")
    svc = core.create_namespaced_service("default", service("web", {"app": "web"}))

    slices = wait_for(
        discovery.list_namespaced_endpoint_slice,
        "default",
        label_selector=f"{SERVICE_NAME}=web",
        condition=lambda found: (
            [s.metadata.owner_references[0].uid for s in found.values() if s.endpoints]
            == [svc.metadata.uid]
            and len(found) == 1
        ),
    )
    assert old.metadata.name not in slices


def test_endpoints_and_slices_are_served_in_every_namespace_and_by_discovery(
    api_client: Any, core: Any, discovery: Any
) -> None:
    core.create_namespace({"metadata": {"name": "shop"}})
    core.create_namespaced_pod("shop", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("shop", service("web", {"app": "web"}))
    found = wait_for(
        discovery.list_endpoint_slice_for_all_namespaces,
        label_selector=f"{SERVICE_NAME}=web",
        condition=lambda slices: any(s.endpoints for s in slices.values()),
    )
    assert {s.metadata.namespace for s in found.values()} == {"shop"}
    listed = core.list_endpoints_for_all_namespaces(label_selector="team=web").items
    assert [(e.metadata.namespace, e.metadata.name) for e in listed] == [("shop", "web")]

    core_resources = {r.name for r in core.get_api_resources().resources}
    assert "endpoints" in core_resources
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert "discovery.k8s.io" in groups
    listed_kinds = {r.name: r.kind for r in discovery.get_api_resources().resources}
    assert listed_kinds == {"endpointslices": "EndpointSlice"}

    core.delete_namespace("shop")  # asynchronous: its contents go first, then it
    wait_for(core.list_namespace, condition=lambda namespaces: "shop" not in namespaces)
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_endpoints("web", "shop")
    assert (gone.value.status, status_body(gone.value)["reason"]) == (404, "NotFound")


@pytest.fixture
def own_node() -> Iterator[KubeEmulator]:
    with KubeEmulator(ready_delay=0.05, node_address="auto") as emu:
        yield emu


def test_the_node_reports_its_own_address_and_pods_run_on_it(
    own_node: KubeEmulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    api = new_api_client(own_node.write_kubeconfig(tmp_path / "kubeconfig"))
    core: Any = client.CoreV1Api(api)
    address = own_node.node_address
    assert address.startswith("127.") and not address.startswith("127.0.")

    (node,) = core.list_node().items
    assert node.metadata.name == "sandbox-node"
    assert node_address(core) == address
    assert {a.type: a.address for a in node.status.addresses}["Hostname"] == "sandbox-node"
    assert [(c.type, c.status) for c in node.status.conditions] == [("Ready", "True")]

    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    (pod,) = ready_pods(core, "app=web", 1)
    assert pod.spec.node_name == "sandbox-node"
    assert pod.status.host_ip == address
    api.close()


def test_node_address_must_be_ipv4_loopback() -> None:
    for bad in ("10.0.0.1", "::1", "node"):
        with pytest.raises(ValueError, match="node address"):
            KubeEmulator(node_address=bad)


def test_a_pod_turning_unready_moves_to_not_ready_addresses_and_back(
    core: Any, discovery: Any
) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    wait_for_slices(discovery, "web", {"a": READY})

    # What a kubelet writes when the readiness probe starts failing, and passing again.
    unready = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    core.patch_namespaced_pod_status("a", "default", unready)
    wait_for_slices(discovery, "web", {"a": NOT_READY})
    wait_for_endpoints(core, "web", {"a": (ip(core, "a"), 8080, False)})

    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    core.patch_namespaced_pod_status("a", "default", ready)
    wait_for_slices(discovery, "web", {"a": READY})
    wait_for_endpoints(core, "web", {"a": (ip(core, "a"), 8080, True)})


def test_publish_not_ready_addresses_lists_unready_pods_as_ready(core: Any, discovery: Any) -> None:
    core.create_namespaced_pod("default", web_pod("stuck", {"app": "web"}, "acme/broken"))
    body = service("web", {"app": "web"}, kind="ClusterIP")
    body["spec"]["publishNotReadyAddresses"] = True
    core.create_namespaced_service("default", body)
    wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: "stuck" in pods and pods["stuck"].status.pod_ip is not None,
    )
    wait_for_slices(discovery, "web", {"stuck": (True, True, False)})
    wait_for_endpoints(core, "web", {"stuck": (ip(core, "stuck"), 8080, True)})


def test_a_hand_edited_managed_slice_is_put_back(core: Any, discovery: Any) -> None:
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    (piece,) = wait_for_slices(discovery, "web", {"a": READY}).values()

    piece.endpoints = []
    discovery.replace_namespaced_endpoint_slice(piece.metadata.name, "default", piece)
    (restored,) = wait_for_slices(discovery, "web", {"a": READY}).values()
    assert restored.metadata.name == piece.metadata.name
    assert int(restored.metadata.resource_version) > int(piece.metadata.resource_version)


def test_every_service_port_gets_its_endpoint_port(core: Any, discovery: Any) -> None:
    ports = [
        {"name": "http", "containerPort": 8080},
        {"name": "admin", "containerPort": 9000},
    ]
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}, ports=ports))
    body = service("web", {"app": "web"})
    body["spec"]["ports"].append({"name": "admin", "port": 9, "targetPort": "admin"})
    core.create_namespaced_service("default", body)
    slices = wait_for_slices(discovery, "web", {"a": READY})
    (piece,) = slices.values()
    assert sorted((p.name, p.port) for p in piece.ports) == [("admin", 9000), ("http", 8080)]


def test_endpoints_stay_right_when_a_pass_finds_its_history_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst larger than the event history (12 pods made and started in one pass each,
    history 10) makes the controller resync every Service instead of only the touched ones."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with KubeEmulator(ready_delay=0.05, history_size=10) as emu:
        api = new_api_client(emu.write_kubeconfig(tmp_path / "kubeconfig"))
        core: Any = client.CoreV1Api(api)
        discovery: Any = client.DiscoveryV1Api(api)
        core.create_namespaced_service("default", service("web", {"app": "web"}, 80))
        core.create_namespaced_service("default", service("gone", {"app": "web"}, 80))
        core.create_namespaced_replication_controller(
            "default", rc_body("web", {"app": "web"}, replicas=12)
        )
        core.delete_namespaced_service("gone", "default")

        def endpoints() -> tuple[int, int, list[str]]:
            slices = discovery.list_namespaced_endpoint_slice("default").items
            ready = [
                e
                for s in slices
                if s.metadata.labels[SERVICE_NAME] == "web"
                for e in s.endpoints or []
                if e.conditions.ready
            ]
            (web,) = core.list_namespaced_endpoints("default").items
            addresses = sum(len(subset.addresses or []) for subset in web.subsets or [])
            return len(ready), addresses, sorted(s.metadata.labels[SERVICE_NAME] for s in slices)

        deadline = time.monotonic() + 10  # polled: a watch would expire as fast as the history
        while endpoints() != (12, 12, ["web"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert endpoints() == (12, 12, ["web"])
        api.close()


def test_a_watch_on_slices_sees_them_made_filled_and_removed(core: Any, discovery: Any) -> None:
    start = discovery.list_namespaced_endpoint_slice("default").metadata.resource_version
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    core.create_namespaced_pod("default", web_pod("a", {"app": "web"}))
    seen: list[tuple[str, list[str]]] = []
    stream = new_watch().stream(
        discovery.list_namespaced_endpoint_slice,
        "default",
        label_selector=f"{SERVICE_NAME}=web",
        resource_version=start,
        timeout_seconds=10,
    )
    for event in stream:
        piece = event["object"]
        ready = [e.target_ref.name for e in piece.endpoints or [] if e.conditions.ready]
        seen.append((event["type"], ready))
        if ready == ["a"] and event["type"] == "MODIFIED":
            core.delete_namespaced_service("web", "default")
        if event["type"] == "DELETED":
            break
    stream.close()
    assert seen[0] == ("ADDED", [])  # made at once, empty while the pod is Pending
    assert seen[-2:] == [("MODIFIED", ["a"]), ("DELETED", ["a"])]
    assert {kind for kind, _ in seen[1:-1]} == {"MODIFIED"}


def test_a_foreground_delete_of_a_service_with_ready_pods_finishes(
    core: Any, apps: Any, discovery: Any
) -> None:
    """The slices are the Service's dependents: recreating them while it is being deleted
    would keep the delete (and the controller) going forever."""
    apps.create_namespaced_deployment("default", web_deployment("web", {"app": "web"}))
    core.create_namespaced_service("default", service("web", {"app": "web"}))
    first, second = ready_pods(core, "app=web", 2)
    wait_for_slices(discovery, "web", {first.metadata.name: READY, second.metadata.name: READY})

    core.delete_namespaced_service(
        "web", "default", body=client.V1DeleteOptions(propagation_policy="Foreground")
    )

    wait_for(core.list_namespaced_service, "default", condition=lambda found: "web" not in found)
    wait_for(
        discovery.list_namespaced_endpoint_slice,
        "default",
        condition=lambda found: not found,
    )
