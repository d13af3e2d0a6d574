"""Service networking: clusterIP and nodePort allocation, conflicts, release on delete."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from .kube_helpers import status_body


def node_port_service(name: str, node_port: int | None = None, port: int = 80) -> dict[str, Any]:
    spec_port: dict[str, Any] = {"name": "http", "port": port, "targetPort": 8080}
    if node_port is not None:
        spec_port["nodePort"] = node_port
    return {
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [spec_port]},
    }


def test_node_port_is_allocated_in_range(core: Any) -> None:
    svc = core.create_namespaced_service("default", node_port_service("auto"))
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    assert svc.spec.external_traffic_policy == "Cluster"
    other = core.create_namespaced_service("default", node_port_service("auto2"))
    assert other.spec.ports[0].node_port != svc.spec.ports[0].node_port
    assert other.spec.cluster_ip != svc.spec.cluster_ip


def test_requested_node_port_honoured_then_taken_then_freed(core: Any) -> None:
    first = core.create_namespaced_service("default", node_port_service("blue", 30080))
    assert first.spec.ports[0].node_port == 30080

    with pytest.raises(client.ApiException) as taken:
        core.create_namespaced_service("default", node_port_service("green", 30080))
    body = status_body(taken.value)
    assert (taken.value.status, body["reason"]) == (422, "Invalid")
    assert "provided port is already allocated" in body["message"]
    assert body["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"

    core.delete_namespaced_service("blue", "default")
    second = core.create_namespaced_service("default", node_port_service("green", 30080))
    assert second.spec.ports[0].node_port == 30080


def test_node_port_out_of_range_is_invalid(core: Any) -> None:
    with pytest.raises(client.ApiException) as out:
        core.create_namespaced_service("default", node_port_service("svc", 8080))
    assert out.value.status == 422
    assert "not in the valid range" in status_body(out.value)["message"]


def test_replace_keeps_cluster_ip_and_node_ports(core: Any) -> None:
    svc = core.create_namespaced_service("default", node_port_service("web"))
    allocated = svc.spec.ports[0].node_port
    body = node_port_service("web")  # no clusterIP, no nodePort: the server keeps them
    body["metadata"]["resourceVersion"] = svc.metadata.resource_version
    body["spec"]["selector"] = {"app": "web", "color": "green"}
    replaced = core.replace_namespaced_service("web", "default", body)
    assert replaced.spec.cluster_ip == svc.spec.cluster_ip
    assert replaced.spec.ports[0].node_port == allocated
    assert replaced.spec.selector == {"app": "web", "color": "green"}

    patched = core.patch_namespaced_service(
        "web", "default", {"spec": {"ports": [{"port": 80, "nodePort": 30111}]}}
    )
    assert [p.node_port for p in patched.spec.ports] == [30111]
    assert patched.spec.ports[0].name == "http"  # strategic merge by port keeps other fields


def test_node_port_on_cluster_ip_service_is_invalid(core: Any) -> None:
    body = node_port_service("web", 30090)
    body["spec"]["type"] = "ClusterIP"
    with pytest.raises(client.ApiException) as forbidden:
        core.create_namespaced_service("default", body)
    assert forbidden.value.status == 422


def test_load_balancer_gets_node_ports(core: Any) -> None:
    body = node_port_service("lb")
    body["spec"]["type"] = "LoadBalancer"
    svc = core.create_namespaced_service("default", body)
    assert svc.spec.ports[0].node_port is not None
    assert svc.status.load_balancer is not None
