"""KubeEmulator: the store, controller and HTTP server together, with start/stop and counters."""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable
from types import TracebackType

from ..faults import KubeFaults
from ..operations import OperationLog
from .controller import Controller, ReadyEvent
from .endpoints import EndpointsController
from .kubeconfig import write_kubeconfig
from .nodeports import NodePorts, check_loopback, unique_loopback
from .objects import NODE_IP, initial_objects, prepare_create
from .server import ApiHttpServer, RequestStats
from .store import Store
from .verbs import ResourceApi


class KubeEmulator:
    """An in-process Kubernetes API server on loopback for the official Python client.

    >>> with KubeEmulator(ready_delay=0.05) as emu:
    ...     path = emu.write_kubeconfig("/tmp/kubeconfig")

    Its node's InternalIP is `node_address` (`"auto"`: a loopback address of its own, see
    `nodeports.unique_loopback`). With `serve_node_ports`, every NodePort Service answers
    HTTP there for the pods it serves (`nodeports.py`); a nodePort that cannot listen is
    passed to `on_node_port_error` (default: a logging warning) and kept in
    `node_ports.errors`.
    """

    def __init__(
        self,
        ready_delay: float = 0.2,
        broken_marker: str = "broken",
        host: str = "127.0.0.1",
        port: int = 0,
        history_size: int = 10000,
        *,
        node_address: str = NODE_IP,
        serve_node_ports: bool = False,
        on_node_port_error: Callable[[str], None] | None = None,
    ) -> None:
        address = "127.0.0.1" if host == "localhost" else host
        if not (
            isinstance(ipaddress.ip_address(address), ipaddress.IPv4Address)
            and ipaddress.ip_address(address).is_loopback
        ):
            raise ValueError(f"KubeEmulator binds only to IPv4 loopback, not {host!r}")
        self._address = (address, port)
        self._store = Store(history_size)
        self.node_address = check_loopback(
            unique_loopback() if node_address == "auto" else node_address
        )
        self.node_ports = (
            NodePorts(self.node_address, on_node_port_error) if serve_node_ports else None
        )
        self._endpoints = EndpointsController(
            self._store, self.node_ports.update if self.node_ports is not None else None
        )
        self._controller = Controller(
            self._store,
            ready_delay,
            broken_marker,
            node_address=self.node_address,
            network=self._endpoints.sync,
        )
        self._stats = RequestStats()
        self.faults = KubeFaults()  # errors, refusals, cut watches and kill points for tests
        self._api = ResourceApi(self._store)
        self._server: ApiHttpServer | None = None
        self._server_thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._stopped = False
        for kind, body in initial_objects(self.node_address):
            self._store.put(kind.plural, prepare_create(kind, body, ""))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> KubeEmulator:
        """Bind, then start the HTTP server and controller threads; returns once serving."""
        with self._lifecycle:
            if self._stopped:
                raise RuntimeError("a stopped KubeEmulator cannot be restarted")
            if self._server is not None:
                return self
            self._server = ApiHttpServer(self._address, self._api, self._stats, self.faults)
            self._server_thread = threading.Thread(
                target=self._server.serve,
                name="kubeapi-server",
                daemon=True,
            )
            self._server_thread.start()
            if self.node_ports is not None:
                self.node_ports.start()
            self._controller.start()
            return self

    def stop(self) -> None:
        """Stop the server and controller, end open watches and connections; idempotent."""
        with self._lifecycle:
            if self._stopped:
                return
            self._stopped = True
            self._stats.operations.save()
            self._store.close()  # wakes and ends watches and the controller
            if self._server is not None:
                self._server.stop_serving()
                if self._server_thread is not None:
                    self._server_thread.join()
                self._server.close_connections()
                self._server.server_close()
            self._controller.join()
            if self.node_ports is not None:
                self.node_ports.stop()

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ access

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("KubeEmulator is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def write_kubeconfig(self, path: str | os.PathLike[str]) -> str:
        """Write a kubeconfig whose only context points at this emulator; returns the path."""
        return write_kubeconfig(path, self.url)

    @property
    def ready_delay(self) -> float:
        """Seconds from pod creation until the controller marks the pod Running (and Ready)."""
        return self._controller.ready_delay

    @ready_delay.setter
    def ready_delay(self, seconds: float) -> None:
        self._controller.ready_delay = seconds

    @property
    def broken_marker(self) -> str:
        """Pods with a container image containing this string never become Ready."""
        return self._controller.broken_marker

    @broken_marker.setter
    def broken_marker(self, marker: str) -> None:
        self._controller.broken_marker = marker

    @property
    def request_count(self) -> int:
        """Total HTTP requests served, of every kind."""
        return self._stats.total

    @property
    def requests_by_verb(self) -> dict[str, int]:
        """Requests per HTTP method; watch GETs count as WATCH instead of GET."""
        return self._stats.by_verb()

    def reset_counters(self) -> None:
        self._stats.reset()

    @property
    def operations(self) -> OperationLog:
        """Every request's (caller, group/resource, verb); see sandbox/operations.py."""
        return self._stats.operations

    @property
    def ready_events(self) -> list[ReadyEvent]:
        """A snapshot of every pod-Ready transition so far, oldest first."""
        return list(self._controller.ready_events)

    def clear_ready_events(self) -> None:
        self._controller.ready_events.clear()
