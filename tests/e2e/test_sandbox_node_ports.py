"""`bluegreen sandbox`: its node's own loopback address, NodePorts answering HTTP there, a busy
port reported in its log, and a bad `--node-address` refused."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

from bluegreen_hooks.sandbox.kubeapi.nodeports import unique_loopback
from tests.e2e.test_sandbox_command import (
    Running,
    clean_env,
    refused_sandbox,
    start,
    temp_root,
)

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def web(core: Any, name: str, node_port: int) -> None:
    """A Ready-to-be pod and a NodePort Service in front of it, made with the official client."""
    labels = {"app": name}
    container = {"name": "web", "image": f"acme/{name}:v1", "ports": [{"containerPort": 8080}]}
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [container]}},
    )
    core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": name},
            "spec": {
                "type": "NodePort",
                "selector": labels,
                "ports": [{"port": 80, "targetPort": 8080, "nodePort": node_port}],
            },
        },
    )


def until(condition: Any, what: str, timeout: float = 20.0) -> Any:
    """Poll `condition()` until it returns something truthy, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def answer(address: str, port: int) -> dict[str, Any] | None:
    try:
        with _DIRECT.open(f"http://{address}:{port}/healthcheck", timeout=5) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except ConnectionRefusedError:
        return None
    except OSError as exc:  # urllib wraps the refusal
        if isinstance(getattr(exc, "reason", None), ConnectionRefusedError):
            return None
        raise


def test_the_sandbox_node_has_its_own_address_where_node_ports_answer(
    tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    sandbox = start(cwd=tmp_path)
    running_sandboxes.append(sandbox)
    node = sandbox.lines[-1]["node"]
    assert node.startswith("127.") and not node.startswith("127.0.")
    assert node in sandbox.env["NO_PROXY"].split(",")
    core = sandbox.core()
    (listed,) = core.list_node().items
    assert {a.type: a.address for a in listed.status.addresses}["InternalIP"] == node

    web(core, "shop", 30444)
    body = until(lambda: answer(node, 30444), "the pod answers on its NodePort")
    assert (body["image"], body["pod"], body["path"]) == ("acme/shop:v1", "shop", "/healthcheck")

    assert sandbox.stop() == 0
    assert answer(node, 30444) is None  # refused: the sandbox took its listeners with it


def test_a_node_port_held_by_another_process_is_said_in_the_sandbox_log(
    tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    address = unique_loopback()
    with socket.create_server((address, 30445)):
        sandbox = start("--node-address", address, cwd=tmp_path)
        running_sandboxes.append(sandbox)
        assert sandbox.lines[-1]["node"] == address
        web(sandbox.core(), "shop", 30445)

        warning = until(
            lambda: next((e for e in sandbox.later if "nodePort 30445" in e["event"]), None),
            "a warning about nodePort 30445",
        )
    assert warning["level"] == "warning"
    assert "cannot listen on" in warning["event"] and "already in use" in warning["event"]
    assert sandbox.stop() == 0


def test_a_node_address_off_loopback_exits_2_before_starting(tmp_path: Path) -> None:
    result = refused_sandbox(
        tmp_path, "--node-address", "10.0.0.1", env=clean_env(TMPDIR=str(temp_root(tmp_path)))
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "--node-address" in result.stderr and "not an IPv4 loopback address" in result.stderr
    assert not (tmp_path / "sandbox.env").exists()
