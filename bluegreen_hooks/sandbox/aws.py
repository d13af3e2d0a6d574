"""Emulated AWS: moto in server mode on loopback, counting the requests it serves.

`faults` injects errors and kill points in front of moto (see `sandbox/faults.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from bluegreen_hooks.sandbox.faults import AwsFaults
from bluegreen_hooks.sandbox.operations import OperationLog, aws_action, aws_operation

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MotoServer:
    """moto's WSGI app on 127.0.0.1 (a free port), in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests_by_action: Counter[str] = Counter()
        self.request_log: list[tuple[float, str]] = []  # (time.time() on arrival, action)
        self.operations = OperationLog("aws")  # who asked for what; kept across reset_counters
        self.faults = AwsFaults()

    @property
    def request_count(self) -> int:
        return sum(self.requests_by_action.values())

    def reset_counters(self) -> None:
        with self._lock:
            self.requests_by_action.clear()
            self.request_log.clear()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on our stderr
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = self._counting(self.faults.wrap(DomainDispatcherApplication(create_backend_app)))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.operations.save()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def _counting(self, app: WsgiApp) -> WsgiApp:
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            arrived = time.time()
            action = environ["bluegreen.action"] = aws_action(environ)
            with self._lock:
                self.requests_by_action[action] += 1
                self.request_log.append((arrived, action))
            self.operations.add(
                str(environ.get("HTTP_USER_AGENT", "")), *aws_operation(environ, action)
            )
            return app(environ, start_response)

        return counted
