"""Fixtures: a running KubeEmulator and official-client APIs pointed at it through a kubeconfig."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import new_api_client


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator(ready_delay=0.05) as emu:
        yield emu


# The client's models type every field Optional, so fixtures hand out Any: tests then read
# `pod.status.phase` directly instead of narrowing each level.


@pytest.fixture
def api_client(
    emulator: KubeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    for variable in ("NO_PROXY", "no_proxy"):  # never send loopback traffic to a proxy
        monkeypatch.setenv(variable, "127.0.0.1,localhost")
    path = emulator.write_kubeconfig(tmp_path / "kubeconfig")
    api = new_api_client(path)
    yield api
    api.close()


@pytest.fixture
def core(api_client: Any) -> Any:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: Any) -> Any:
    return client.AppsV1Api(api_client)


@pytest.fixture
def coordination(api_client: Any) -> Any:
    return client.CoordinationV1Api(api_client)
