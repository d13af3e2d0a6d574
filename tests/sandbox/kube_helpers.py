"""Helpers for the emulator tests: Status bodies, list+watch waiting, object bodies."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

Objects = dict[str, Any]


def new_api_client(kubeconfig: str | Path) -> Any:
    """An ApiClient for the kubeconfig's current context (the loader itself is untyped)."""
    loader: Any = config.new_client_from_config
    return loader(config_file=str(kubeconfig))


def new_watch() -> Any:
    """A `kubernetes.watch.Watch` (its constructor is untyped)."""
    factory: Any = watch.Watch
    return factory()


def is_model(obj: Any, model: type[Any]) -> bool:
    """Whether the client decoded a response into exactly `model` (without narrowing for mypy)."""
    return type(obj) is model


def status_body(exc: client.ApiException) -> dict[str, Any]:
    """The decoded `Status` body of a failed call."""
    assert exc.body is not None
    body: dict[str, Any] = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def wait_for(
    list_func: Callable[..., Any],
    *args: Any,
    condition: Callable[[Objects], bool],
    timeout: float = 5.0,
    **kwargs: Any,
) -> Objects:
    """List, then watch from the list's resourceVersion until `condition(objects by name)`."""
    listing = list_func(*args, **kwargs)
    objects: Objects = {item.metadata.name: item for item in listing.items}
    if condition(objects):
        return objects
    deadline = time.monotonic() + timeout
    stream = new_watch().stream(
        list_func,
        *args,
        resource_version=listing.metadata.resource_version,
        timeout_seconds=math.ceil(timeout),
        **kwargs,
    )
    try:
        for event in stream:
            name = event["object"].metadata.name
            if event["type"] == "DELETED":
                objects.pop(name, None)
            else:
                objects[name] = event["object"]
            if condition(objects):
                return objects
            if time.monotonic() > deadline:
                break
    finally:
        stream.close()
    raise AssertionError(f"condition not met within {timeout}s; last state: {sorted(objects)}")


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def pod_body(name: str, labels: dict[str, str] | None = None, image: str = "nginx:1.27") -> Any:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def template(labels: dict[str, str], image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 80}]}]},
    }


def deployment_body(
    name: str, labels: dict[str, str], replicas: int = 2, image: str = "nginx:1.27"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": template(labels, image),
        },
    }


def rc_body(
    name: str, labels: dict[str, str], replicas: int = 2, image: str = "nginx:1.27"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": labels, "template": template(labels, image)},
    }
