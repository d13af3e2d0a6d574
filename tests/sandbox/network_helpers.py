"""Helpers for the Endpoints and NodePort tests: bodies, waiting on slices, asking a NodePort."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .kube_helpers import wait_for

SERVICE_NAME = "kubernetes.io/service-name"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def web_pod(
    name: str,
    labels: dict[str, str],
    image: str = "acme/web:v1",
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pod whose container declares `ports` (default: `http` on 8080)."""
    declared = [{"name": "http", "containerPort": 8080}] if ports is None else ports
    container: dict[str, Any] = {"name": "web", "image": image}
    if declared:
        container["ports"] = declared
    return {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [container]}}


def web_deployment(
    name: str, labels: dict[str, str], image: str = "acme/web:v1", replicas: int = 2
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def service(
    name: str,
    selector: dict[str, str] | None,
    target_port: int | str = "http",
    node_port: int | None = None,
    kind: str = "NodePort",
) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http", "port": 80, "targetPort": target_port}
    if node_port is not None:
        port["nodePort"] = node_port
    spec: dict[str, Any] = {"type": kind, "ports": [port]}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": name, "labels": {"team": "web"}}, "spec": spec}


def slice_endpoints(slices: dict[str, Any]) -> dict[str, tuple[bool, bool, bool]]:
    """Pod name -> (ready, serving, terminating), over every slice."""
    return {
        endpoint.target_ref.name: (
            endpoint.conditions.ready,
            endpoint.conditions.serving,
            endpoint.conditions.terminating,
        )
        for piece in slices.values()
        for endpoint in piece.endpoints or []
    }


def wait_for_slices(
    discovery: Any, service_name: str, expected: dict[str, tuple[bool, bool, bool]]
) -> dict[str, Any]:
    """Watch the Service's EndpointSlices until their endpoints are exactly `expected`."""
    return wait_for(
        discovery.list_namespaced_endpoint_slice,
        "default",
        label_selector=f"{SERVICE_NAME}={service_name}",
        condition=lambda slices: bool(slices) and slice_endpoints(slices) == expected,
    )


def ready_pods(core: Any, selector: str, count: int) -> list[Any]:
    """Watch until `count` pods matching `selector` are Ready; returns them by name."""

    def enough(pods: dict[str, Any]) -> bool:
        ready = [p for p in pods.values() if _is_ready(p)]
        return len(ready) == count == len(pods)

    pods = wait_for(core.list_namespaced_pod, "default", label_selector=selector, condition=enough)
    return [pods[name] for name in sorted(pods)]


def _is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def node_address(core: Any) -> str:
    """The node's InternalIP, read as the gates read it: from the Nodes API."""
    (node,) = core.list_node().items
    addresses = {a.type: a.address for a in node.status.addresses}
    return str(addresses["InternalIP"])


def get(address: str, port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, Any]:
    """GET http://address:port/path: (status, decoded JSON body); raises OSError when the
    connection fails (refused, reset, timed out)."""
    url = f"http://{address}:{port}{path}"
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, OSError):
            raise exc.reason from None
        raise
