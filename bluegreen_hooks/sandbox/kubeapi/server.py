"""The HTTP layer: URL routing, JSON bodies, chunked watch streams, a threaded server."""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from ..faults import KubeFaults
from ..operations import OperationLog, kube_operation
from . import discovery, openapi, protobuf, tables
from .errors import (
    ApiError,
    bad_request,
    method_not_allowed,
    path_not_found,
    unsupported_media_type,
)
from .objects import Kind, find_kind
from .schema import prune_unknown
from .verbs import ResourceApi
from .watch import WatchCut

Obj = dict[str, Any]

log = logging.getLogger(__name__)


BODY_MEDIA_TYPES = ("application/json", "application/yaml")
PATCH_MEDIA_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def _parse_yaml(raw: bytes) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw.decode("utf-8", "replace"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise bad_request(f"error converting YAML to JSON: yaml: {where}{problem}") from None


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class RequestStats:
    """Thread-safe request counters, by HTTP method (and WATCH for watch GETs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self._by_verb: dict[str, int] = {}
        self.operations = OperationLog("kubernetes")  # who asked for what; kept across reset

    def count(self, verb: str) -> None:
        with self._lock:
            self.total += 1
            self._by_verb[verb] = self._by_verb.get(verb, 0) + 1

    def by_verb(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_verb)

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self._by_verb.clear()


class Route(NamedTuple):
    """A resource URL; namespace None means a cluster-scoped kind or all namespaces."""

    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str


def route(path: str) -> Route:
    """Map `/api/v1/...` and `/apis/{group}/{version}/...` paths to a Route; raises a 404."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise path_not_found()
    nested = find_kind(group, version, rest[2]) if len(rest) >= 3 else None
    if rest and rest[0] == "namespaces" and nested is not None and nested.namespaced:
        kind, namespace, tail = nested, rest[1], rest[3:]
    else:
        found = find_kind(group, version, rest[0]) if rest else None
        if found is None or (found.namespaced and len(rest) > 1):
            raise path_not_found()
        kind, namespace, tail = found, None, rest[1:]
    if len(tail) > 2 or (len(tail) == 2 and (tail[1] != "status" or not kind.has_status)):
        raise path_not_found()
    return Route(kind, namespace, tail[0] if tail else None, tail[1] if len(tail) == 2 else "")


PROTOBUF = "application/vnd.kubernetes.protobuf"


def decode_protobuf(raw: bytes) -> Any:
    """A protobuf body (kubectl's typed commands send it and do not retry in JSON after a
    415), decoded to JSON; 415 for one the emulator cannot decode."""
    try:
        return protobuf.decode(raw)
    except protobuf.ProtobufError as exc:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types "
            f"include: application/json, application/yaml, {PROTOBUF} ({exc})",
        ) from None


class ApiHttpServer(HTTPServer):
    """An HTTPServer with a daemon thread per connection; `close_connections` ends them all.

    Run it with `serve()` (not `serve_forever`), stop it with `stop_serving()`.
    """

    def __init__(
        self,
        address: tuple[str, int],
        api: ResourceApi,
        stats: RequestStats,
        faults: KubeFaults | None = None,
    ) -> None:
        self.api = api
        self.stats = stats
        self.faults = faults or KubeFaults()
        self.faults.on_watch_change(api.store.wake)
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._stopping = False
        self._busy = 0  # requests being handled (including open watch streams)
        self._idle = threading.Condition()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def serve(self) -> None:
        """Accept connections until `stop_serving` (blocking accept, no polling)."""
        while True:
            try:
                request, client_address = self.socket.accept()
            except OSError:
                return
            if self._stopping:
                request.close()
                return
            self.process_request(request, client_address)

    def stop_serving(self) -> None:
        """Make `serve` return: flag it, then wake the blocked accept()."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        with contextlib.suppress(OSError):  # elsewhere a connection wakes it
            socket.create_connection((self.server_name, self.server_port), timeout=1).close()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="kubeapi-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Mark one request as in progress, so `close_connections` lets it finish first."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def close_connections(self, timeout: float = 5.0) -> None:
        """Let in-flight requests finish (watches end once the store closes), then shut down
        every connection, idle keep-alives included, and join their threads."""
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout)
        with self._connections_lock:
            connections = list(self._connections.items())
        for sock, _thread in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _sock, thread in connections:
            thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else small keep-alive responses stall ~40 ms on delayed ACKs
    server: ApiHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator never writes to stdout/stderr for ordinary requests."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_OPTIONS(self) -> None:
        self._serve("OPTIONS")

    # ------------------------------------------------------------------ plumbing

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        watching = method == "GET" and query.get("watch", "").lower() in ("true", "1")
        self.server.stats.count("WATCH" if watching else method)
        self.server.stats.operations.add(
            self.headers.get("User-Agent", ""), *kube_operation(method, url.path, watching)
        )
        with self.server.busy():
            self._respond(method, url.path, query, watching)

    def _respond(self, method: str, path: str, query: dict[str, str], watching: bool) -> None:
        payload: Obj | str
        faults = self.server.faults
        self._warnings: list[str] = []
        try:
            raw = self._read_body()
            fault = faults.intercept(method, self.path, watching=watching)
            if fault is not None:
                self._send(fault.status, fault.body, headers=fault.headers)
                return
            if watching:
                self._watch(path, query)
                return
            code, payload = self._dispatch(method, path, query, self._decode_body(method, raw))
        except ApiError as exc:
            code, payload = exc.code, exc.status()
        except Exception as exc:
            log.exception("kube emulator failed on %s %s", method, self.path)
            code, payload = 500, ApiError(500, "InternalError", f"internal error: {exc}").status()
        faults.handled(method, self.path, watching=False)
        drop = faults.dropped(method, self.path)
        if drop == "mid-body":
            self._send(code, payload, cut_mid_body=True)
        if drop is not None:
            self._cut()
            return
        warnings = tuple(("Warning", f'299 - "{_quote(w)}"') for w in self._warnings)
        self._send(code, payload, head_only=method == "HEAD", headers=warnings)

    def _read_body(self) -> Any:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = bytearray(self.rfile.read(length) if length > 0 else b"")
        return raw

    def _decode_body(self, method: str, raw: bytes) -> Any:
        """The request body as JSON-shaped data: JSON, YAML for creates and updates, or the
        protobuf kubectl's typed commands send, as the Content-Type says; 415 for any other
        format (CBOR too: client-go then retries in JSON)."""
        if not raw.strip():
            return None
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media == PROTOBUF and method != "PATCH":
            return decode_protobuf(bytes(raw))
        if method == "PATCH":
            if media not in ("", *PATCH_MEDIA_TYPES):
                raise unsupported_media_type(PATCH_MEDIA_TYPES)
        elif media == "application/yaml":
            return _parse_yaml(raw)
        elif media not in ("", "application/json"):
            raise unsupported_media_type(BODY_MEDIA_TYPES)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    def _validate_fields(self, kind: Kind, query: dict[str, str], body: Any) -> None:
        """fieldValidation: Strict refuses unknown fields, Warn (the default) drops them with
        a Warning header, Ignore just drops them."""
        mode = query.get("fieldValidation") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise bad_request(
                f'fieldValidation: Unsupported value: "{mode}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        unknown = prune_unknown(kind, body)
        if not unknown or mode == "Ignore":
            return
        described = ", ".join(f'unknown field "{field}"' for field in unknown)
        if mode == "Strict":
            raise bad_request(f"strict decoding error: {described}")
        self._warnings += [f'unknown field "{field}"' for field in unknown]

    def _send(
        self,
        code: int,
        payload: Obj | str,
        head_only: bool = False,
        headers: tuple[tuple[str, str], ...] = (),
        cut_mid_body: bool = False,
    ) -> None:
        if isinstance(payload, str):
            data, content_type = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if cut_mid_body:  # an injected fault: the caller cuts the connection after this
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
        elif not head_only:
            self.wfile.write(data)

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Obj | str]:
        document = self._document(path)
        if document is not None:
            if method not in ("GET", "HEAD"):
                raise method_not_allowed()
            return 200, document
        target = route(path)
        api, kind, name = self.server.api, target.kind, target.name
        namespace = target.namespace or ""
        dry_run = query.get("dryRun") == "All"
        patch_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if method in ("POST", "PUT") or (
            method == "PATCH" and patch_type != "application/json-patch+json"
        ):
            self._validate_fields(kind, query, body)
        if name is None:
            if method == "GET":
                return 200, self._as_requested(
                    kind, api.list_collection(kind, target.namespace, query), query
                )
            if method == "POST" and (target.namespace is not None or not kind.namespaced):
                return 201, api.create(kind, namespace, body, dry_run)
            if method == "DELETE":
                return 200, api.delete_collection(kind, target.namespace, query, body)
            raise method_not_allowed()
        if method in ("GET", "HEAD"):
            return 200, self._as_requested(kind, api.get(kind, namespace, name), query)
        if method == "PUT":
            return 200, api.replace(kind, namespace, name, body, target.subresource, dry_run)
        if method == "PATCH":
            content_type = self.headers.get("Content-Type") or ""
            return 200, api.patch(
                kind, namespace, name, body, content_type, target.subresource, dry_run
            )
        if method == "DELETE" and not target.subresource:
            return 200, api.delete(kind, namespace, name, query, body)
        raise method_not_allowed()

    def _as_requested(self, kind: Kind, body: Obj, query: dict[str, str]) -> Obj:
        """A Table instead of the object(s) when the client asks for one (kubectl get)."""
        if not tables.wants_table(self.headers.get("Accept")):
            return body
        return tables.table(kind.plural, body, query.get("includeObject", ""))

    def _document(self, path: str) -> Obj | str | None:
        path = "/" + path.strip("/")
        if path in ("/healthz", "/readyz", "/livez"):
            return "ok"
        if path == "/version":
            return discovery.version()
        if path == "/api":
            host, port = self.server.server_address[:2]
            return discovery.core_versions(f"{host!s}:{port}")
        if path == "/apis":
            return discovery.groups()
        if path == "/openapi/v3":
            return openapi.v3_root()
        if path.startswith("/openapi/v3/"):
            document = openapi.v3_group_version(path.removeprefix("/openapi/v3/"))
            if document is None:
                raise path_not_found()
            return document
        parts = path.strip("/").split("/")
        if parts == ["api", "v1"]:
            return discovery.resources("", "v1")
        if len(parts) == 3 and parts[0] == "apis":
            listing = discovery.resources(parts[1], parts[2])
            if listing is None:
                raise path_not_found()
            return listing
        return None

    def _watch(self, path: str, query: dict[str, str]) -> None:
        target = route(path)
        if target.name is not None:
            raise bad_request("watch a single object with a metadata.name field selector")
        cutter = self.server.faults.watch_cutter()
        events = self.server.api.watch(
            target.kind, target.namespace, query, self._client_gone, cutter
        )
        if tables.wants_table(self.headers.get("Accept")):
            events = tables.table_events(target.kind.plural, events, query.get("includeObject", ""))
        self.server.faults.handled("GET", self.path, watching=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self._write_chunk(json.dumps(event).encode() + b"\n")
                if cutter.after_event():
                    raise WatchCut
            self._write_chunk(b"")  # the terminating zero-length chunk: a clean end of stream
        except WatchCut:
            error = cutter.error_event()
            if error is None:
                self._cut()
                return
            with contextlib.suppress(OSError):
                self._write_chunk(json.dumps(error).encode() + b"\n")
                self._write_chunk(b"")
        except OSError:  # the client went away
            self.close_connection = True
        if self.server.api.store.closed:
            self.close_connection = True

    def _cut(self) -> None:
        """Drop the connection mid-stream (an injected fault): no terminating chunk."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _client_gone(self) -> bool:
        """Whether the peer closed its end (checked while a watch is idle)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
