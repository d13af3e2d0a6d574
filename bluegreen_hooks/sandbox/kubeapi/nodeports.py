"""The node's NodePorts on a loopback address: each answers HTTP for the pods its Service serves.

A NodePort listens on `<node address>:<nodePort>` only while its Service has a backend that
serves (`Route.serving`): a Ready pod, not terminating (if none is, a Ready terminating one),
whose app listens on the resolved targetPort (a port one of its containers declares, or any
port when none declares one). Otherwise nothing listens, so a client gets "connection
refused", as from a cluster with no endpoint behind a NodePort. Connections go to those
backends in turn (round-robin). The emulated app answers every method
and path with 200 and a JSON body naming the pod and its image, e.g.
`{"pod": "web-green-x7k2p", "image": "acme/web:2222222", "service": "default/web-green", ...}`;
`answers` changes that by image: an image containing `unhealthy` answers 500, one containing
`slow` answers after `SLOW_SECONDS`; tests add their own (say, a commit that answers 503).

Every emulator's node has its own loopback address (`unique_loopback()`), so emulators
running side by side (parallel tests, two sandboxes) never fight over a nodePort; a port that
something else holds on the same address is reported (`errors`, and the `report` callback),
never raised, and tried again on the next change.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import random
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from .endpoints import Backend, Route

log = logging.getLogger(__name__)

SLOW_SECONDS = 5.0
_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class HttpAnswer:
    """How the app in a pod answers: its status code, after `delay` seconds."""

    status: int = 200
    delay: float = 0.0


DEFAULT_ANSWERS: dict[str, HttpAnswer] = {
    "unhealthy": HttpAnswer(status=500),
    "slow": HttpAnswer(delay=SLOW_SECONDS),
}


def unique_loopback() -> str:
    """A random IPv4 loopback address outside 127.0.0.0/16 (where pod IPs are), e.g.
    127.83.4.17: one of 16 million, so two emulators practically never share one."""
    rng = random.SystemRandom()
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def check_loopback(address: str) -> str:
    """`address` if it is an IPv4 loopback address; else ValueError."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"node address {address!r} is not an IP address") from None
    if not (isinstance(ip, ipaddress.IPv4Address) and ip.is_loopback):
        raise ValueError(f"node address {address!r} is not an IPv4 loopback address (127.x.y.z)")
    return str(ip)


class NodePorts:
    """Listeners for every NodePort with a serving backend, and the app that answers on them.

    `update(routes)` (from the controller, on every change that touches a Service) opens and
    closes listeners; a thread accepts connections and each is answered in its own thread.
    """

    def __init__(self, address: str, report: Callable[[str], None] | None = None) -> None:
        self.address = check_loopback(address)
        self.answers: dict[str, HttpAnswer] = dict(DEFAULT_ANSWERS)  # image substring -> answer
        self.errors: dict[int, str] = {}  # nodePort -> why nothing listens on it
        self._report = report or log.warning
        self._lock = threading.Lock()
        self._routes: dict[int, Route] = {}
        self._listeners: dict[int, socket.socket] = {}
        self._turns: dict[int, int] = {}
        self._conversations: dict[threading.Thread, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._waker, self._wake = socket.socketpair()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._waker.setblocking(False)
        self._selector.register(self._waker, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._accept_loop, name="nodeports", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close every listener and open connection (slow answers are dropped, idle clients
        cut off), and wait for the threads; idempotent."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
            for port in list(self._listeners):
                self._close(port)
            self._routes = {}
        with contextlib.suppress(OSError):
            self._wake.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout)  # no connection is accepted after this
        with self._lock:
            conversations = dict(self._conversations)
        for conn in conversations.values():
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a handler blocked reading
        for thread in conversations:
            thread.join(timeout)
        self._selector.close()
        self._waker.close()
        self._wake.close()

    @property
    def listening(self) -> list[int]:
        """The nodePorts with a listener open now."""
        with self._lock:
            return sorted(self._listeners)

    # ------------------------------------------------------------------ routes

    def update(self, routes: Mapping[int, Route]) -> None:
        """Serve exactly the NodePorts of `routes` that have a serving backend."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._routes = dict(routes)
            wanted = {port for port, route in routes.items() if route.serving}
            for port in list(self._listeners):
                if port not in wanted:
                    self._close(port)
            for port in list(self.errors):
                if port not in wanted:
                    del self.errors[port]
            for port in sorted(wanted - set(self._listeners)):
                self._open(port, routes[port])

    def _open(self, port: int, route: Route) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Lets a port closed a moment ago (connections in TIME_WAIT) listen again at once;
            # on Linux it never lets two sockets listen on the same address and port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            message = (
                f"nodePort {port} of service {route.service}: cannot listen on "
                f"{self.address}:{port} ({exc.strerror or exc}); nothing answers there until it "
                "is free (give each sandbox its own node address)"
            )
            if self.errors.get(port) != message:
                self.errors[port] = message
                self._report(message)
            return
        self.errors.pop(port, None)
        self._listeners[port] = sock
        self._selector.register(sock, selectors.EVENT_READ, port)

    def _close(self, port: int) -> None:
        sock = self._listeners.pop(port)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()

    def _pick(self, port: int) -> tuple[Route, Backend] | None:
        """The next serving backend of a NodePort, in turn; None when it has none."""
        with self._lock:
            route = self._routes.get(port)
            serving = route.serving if route is not None else ()
            if route is None or not serving:
                return None
            turn = self._turns.get(port, 0)
            self._turns[port] = turn + 1
            return route, serving[turn % len(serving)]

    def answer_for(self, image: str) -> HttpAnswer:
        """How a pod with this image answers: the first non-200 status and the summed delays
        of every `answers` entry its image contains."""
        status, delay = 200, 0.0
        for marker, answer in list(self.answers.items()):
            if marker and marker in image:
                delay += answer.delay
                if status == 200:
                    status = answer.status
        return HttpAnswer(status, delay)

    # ------------------------------------------------------------------ serving

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ready = self._selector.select()
            except (OSError, ValueError):
                return  # closed by stop()
            for key, _events in ready:
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._waker.recv(64)
                    continue
                self._accept(key.fileobj, key.data)  # type: ignore[arg-type]

    def _accept(self, sock: socket.socket, port: int) -> None:
        try:
            conn, _peer = sock.accept()
        except OSError:
            return  # closed meanwhile, or another wake-up took it
        picked = None if self._stopping.is_set() else self._pick(port)
        if picked is None:  # the last backend left since the listener was open: refuse
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        conn.setblocking(True)
        thread = threading.Thread(
            target=self._converse, args=(conn, *picked), name=f"nodeport-{port}", daemon=True
        )
        with self._lock:
            self._conversations[thread] = conn
        thread.start()

    def _converse(self, conn: socket.socket, route: Route, backend: Backend) -> None:
        conversation: Any = _Conversation(self, route, backend)  # stands in for the server
        try:
            _AppHandler(conn, ("", 0), conversation)
        except OSError:
            pass  # the client went away
        finally:
            conn.close()
            with self._lock:
                self._conversations.pop(threading.current_thread(), None)

    def respond(self, handler: BaseHTTPRequestHandler, route: Route, backend: Backend) -> None:
        """Answer one request as the app in `backend`'s pod would."""
        length = handler.headers.get("Content-Length", "")
        if length.isdigit() and 0 < int(length) <= _MAX_BODY:
            handler.rfile.read(int(length))
        answer = self.answer_for(backend.image)
        if answer.delay and self._stopping.wait(answer.delay):
            return  # the emulator stops: drop the answer, as a dying node would
        body = json.dumps(
            {
                "status": answer.status,
                "pod": backend.pod,
                "namespace": backend.namespace,
                "image": backend.image,
                "service": route.service,
                "node": self.address,
                "nodePort": route.node_port,
                "targetPort": backend.port,
                "method": handler.command,
                "path": handler.path,
            }
        ).encode()
        handler.send_response(answer.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("X-Sandbox-Pod", backend.pod)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


class _Conversation:
    """What one connection's handler needs: who answers, through which route."""

    def __init__(self, ports: NodePorts, route: Route, backend: Backend) -> None:
        self.ports = ports
        self.route = route
        self.backend = backend


class _AppHandler(BaseHTTPRequestHandler):
    """The emulated app in a pod: every method, every path (HTTP/1.0: one request each)."""

    server: Any
    server_version = "sandbox-app/1"
    timeout = 10  # an idle client does not hold a thread for long

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        conversation: _Conversation = self.server
        conversation.ports.respond(self, conversation.route, conversation.backend)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer
