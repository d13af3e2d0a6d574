"""Fault injection for the emulators: transient errors, refusals, cut watches, kill points.

`AwsFaults` is WSGI middleware around moto (`MotoServer.faults`); `KubeFaults` is consulted by
the emulated Kubernetes API for every request (`KubeEmulator.faults`). Tests use them to throttle,
refuse, cut and kill; `injected` counts what was done, by kind.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from bluegreen_hooks.sandbox.operations import aws_action, aws_service

Callback = Callable[[], None]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

log = logging.getLogger(__name__)

_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class _Pending:
    """A callback waiting for the nth matching request."""

    matches: Callable[[str, str], bool]
    callback: Callback
    remaining: int


@dataclass
class _Transient:
    rate: float
    rng: random.Random
    choices: tuple[Any, ...]
    only: frozenset[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _fire(callback: Callback) -> None:
    try:
        callback()
    except Exception:  # a test's callback must not take the emulator down
        log.exception("fault callback failed")


def _take_due(pending: list[_Pending], first: str, second: str) -> list[Callback]:
    """Count this request against every matching callback; return (and drop) those now due."""
    due: list[Callback] = []
    for entry in list(pending):
        if entry.matches(first, second):
            entry.remaining -= 1
            if entry.remaining == 0:
                pending.remove(entry)
                due.append(entry.callback)
    return due


# --- AWS ------------------------------------------------------------------------------------


class AwsFaults:
    """WSGI middleware in front of moto: kill points, transient errors and refusals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._transient: _Transient | None = None
        self._refused: dict[str, tuple[int, str]] = {}
        self.injected: Counter[str] = Counter()

    # --- what tests call -------------------------------------------------------------

    def after(self, action: str, callback: Callback, *, nth: int = 1) -> None:
        """Call `callback` once the nth request for AWS `action` (e.g.
        "DeleteLoadBalancerListeners") has been handled by moto (state changed), before its
        response is returned to the client. Counting starts now; faulted requests do not count."""
        if nth < 1:
            raise ValueError("nth counts from 1")
        with self._lock:
            self._pending.append(_Pending(lambda a, _: a == action, callback, nth))

    def transient(self, rate: float, *, seed: int = 0, only: Iterable[str] | None = None) -> None:
        """Answer that share of requests (deterministic RNG) with Throttling (400) or
        ServiceUnavailable (503) in AWS's error format for the protocol, without passing them
        to moto. `only` limits it to some actions."""
        if not 0 <= rate <= 1:
            raise ValueError("rate is a share between 0 and 1")
        with self._lock:
            self._transient = _Transient(
                rate,
                random.Random(seed),
                ((400, "Throttling", "Rate exceeded"), (503, "ServiceUnavailable", "Unavailable")),
                frozenset(only) if only is not None else None,
            )

    def refuse(self, action: str, *, status: int = 403, code: str = "AccessDenied") -> None:
        """Answer every request for `action` with this error (a permanent fault)."""
        with self._lock:
            self._refused[action] = (status, code)

    def clear(self) -> None:
        """Drop every fault and pending callback (the `injected` counts stay)."""
        with self._lock:
            self._pending.clear()
            self._transient = None
            self._refused.clear()

    # --- the middleware ----------------------------------------------------------------

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            action = environ.get("bluegreen.action") or aws_action(environ)
            fault = self._fault_for(action, environ)
            if fault is not None:
                _drain(environ)
                status, headers, body = fault
                start_response(status, headers)
                return [body]
            captured: list[Any] = []

            def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
                captured[:] = [status, headers, exc_info]
                return lambda data: None  # moto returns its body; it never writes directly

            body_parts = list(app(environ, capture))
            with self._lock:
                due = _take_due(self._pending, action, "")
                if due:
                    self.injected["callback"] += len(due)
            for callback in due:
                _fire(callback)
            start_response(*captured)
            return body_parts

        return faulty

    def _fault_for(
        self, action: str, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        with self._lock:
            if action in self._refused:
                status, code = self._refused[action]
                message = (
                    f"User: arn:aws:iam::123456789012:user/sandbox is not authorized to "
                    f"perform: {aws_service(environ)}:{action}"
                )
            elif (
                (transient := self._transient) is not None
                and (transient.only is None or action in transient.only)
                and transient.rng.random() < transient.rate
            ):
                status, code, message = transient.rng.choice(transient.choices)
            else:
                return None
            self.injected[code] += 1
        return _aws_error(environ, action, status, code, message)


def _drain(environ: dict[str, Any]) -> None:
    """Read the unanswered request's body, so the keep-alive connection stays usable."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)


def _aws_error(
    environ: dict[str, Any], action: str, status: int, code: str, message: str
) -> tuple[str, list[tuple[str, str]], bytes]:
    """An error body as the service's protocol has it: JSON (X-Amz-Target), query XML, REST XML."""
    request_id = str(uuid.uuid4())
    line = f"{status} {_REASONS.get(status, 'Error')}"
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": code, "message": message}).encode()
        return line, _headers("application/x-amz-json-1.1", body, request_id, code), body
    if " " not in action:  # the query protocol named its Action
        xml = (
            '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">'
            f"<Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    else:  # REST-XML (S3)
        xml = (
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    body = xml.encode()
    return line, _headers("text/xml", body, request_id, code), body


def _headers(content_type: str, body: bytes, request_id: str, code: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", code),
    ]


# --- Kubernetes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeFault:
    """An answer the emulated API sends instead of handling the request."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


def _method_matches(wanted: str, method: str, watching: bool) -> bool:
    """`GET` matches gets, lists and watches; `WATCH` only watches; `*` anything."""
    if wanted == "*":
        return True
    if wanted == "WATCH":
        return watching
    return wanted == method


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


_KUBE_REASONS = {
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class KubeFaults:
    """Faults for the emulated Kubernetes API: kill points, transient errors, refusals, cuts.

    Paths are matched against the decoded request target (path and query), e.g.
    `"/deployments?"` or `"watch=true"`; methods are HTTP methods, `WATCH` (watch GETs only)
    or `*`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._transient: _Transient | None = None
        self._refused: list[tuple[str, str, int]] = []
        self._drops: list[_Pending] = []
        self._mid_body: dict[int, bool] = {}  # id(drop) -> cut inside the body
        self._cut_after: int | None = None
        self._cut_after_seconds: float | None = None
        self._cut_error: int | None = None
        self._cuts_left: int | None = None
        self._cut_generation = 0
        self._cut_started = 0.0  # time.monotonic() of the latest cut_watches
        self._watch_ids = itertools.count(1)
        self._cut_open_below = 0  # watches with an id below this are cut at once
        self._wakers: list[Callback] = []
        self.injected: Counter[str] = Counter()

    # --- what tests call -------------------------------------------------------------

    def after(self, method: str, path_contains: str, callback: Callback, *, nth: int = 1) -> None:
        """Call `callback` once the nth matching request has been handled (state changed),
        before its response is sent; for a watch, once it is set up, before its stream starts."""
        if nth < 1:
            raise ValueError("nth counts from 1")
        with self._lock:
            self._pending.append(
                _Pending(
                    lambda m, target: (
                        _method_matches(method, m.split(" ")[0], " " in m)
                        and path_contains in target
                    ),
                    callback,
                    nth,
                )
            )

    def transient(
        self,
        rate: float,
        *,
        statuses: Iterable[int] = (500, 429),
        seed: int = 0,
        retry_after: int = 1,
    ) -> None:
        """Answer that share of requests (deterministic RNG) with one of `statuses` (a 429
        carries `Retry-After: retry_after`), without handling them."""
        if not 0 <= rate <= 1:
            raise ValueError("rate is a share between 0 and 1")
        with self._lock:
            self._transient = _Transient(
                rate, random.Random(seed), tuple(statuses), extra={"retry_after": retry_after}
            )

    def cut_watches(
        self,
        after_events: int | None = 1,
        *,
        after_seconds: float | None = None,
        times: int | None = None,
        error: int | None = None,
    ) -> None:
        """Drop every open or new watch connection once it has sent `after_events` more events,
        or has been open `after_seconds` (counted from now for open ones), whichever comes
        first, without ending the chunked stream (the client sees the connection break).
        `times` stops cutting after that many cuts; None cuts on and on. With `error` (e.g. 410
        or 500) the stream instead ends cleanly with an ERROR event carrying a Status of that
        code, as the API server does when etcd compacts or times out under a watch."""
        if after_events is not None and after_events < 1:
            raise ValueError("a watch must send at least one event before it is cut")
        if after_events is None and after_seconds is None:
            raise ValueError("cut watches after some events, some seconds, or both")
        if after_seconds is not None and after_seconds < 0:
            raise ValueError("after_seconds cannot be negative")
        with self._lock:
            self._cut_after = after_events
            self._cut_after_seconds = after_seconds
            self._cuts_left = times
            self._cut_error = error
            self._cut_generation += 1
            self._cut_started = time.monotonic()
        self._wake_watches()

    def cut_open_watches(self) -> None:
        """Drop every watch connection open now, idle ones included, at once; watches opened
        later are not affected."""
        with self._lock:
            self._cut_open_below = next(self._watch_ids)
        self._wake_watches()

    def on_watch_change(self, waker: Callback) -> None:
        """The emulated API registers how to wake its idle watches when cuts are asked for."""
        with self._lock:
            self._wakers.append(waker)

    def _wake_watches(self) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for waker in wakers:
            _fire(waker)

    def refuse(self, method: str, path_contains: str, *, status: int = 403) -> None:
        """Answer every matching request with `status` (a permanent fault, e.g. RBAC's 403)."""
        with self._lock:
            self._refused.append((method, path_contains, status))

    def drop_response(
        self, method: str, path_contains: str, *, times: int = 1, mid_body: bool = False
    ) -> None:
        """Handle the next `times` matching requests, then close the connection instead of
        answering: the change landed, but the client cannot know it. With `mid_body` the
        status line, headers and half the body go out first (the body is cut off)."""
        with self._lock:
            self._drops.append(
                _Pending(
                    lambda m, target: _method_matches(method, m, False) and path_contains in target,
                    lambda: None,
                    times,
                )
            )
            self._mid_body[id(self._drops[-1])] = mid_body

    def dropped(self, method: str, target: str) -> str | None:
        """How to drop this (handled) request's answer: "before" it, "mid-body", or None."""
        with self._lock:
            for entry in self._drops:
                if entry.matches(method, unquote(target)):
                    entry.remaining -= 1
                    mid_body = self._mid_body.get(id(entry), False)
                    if entry.remaining == 0:
                        self._drops.remove(entry)
                        self._mid_body.pop(id(entry), None)
                    self.injected["response cut" if mid_body else "response dropped"] += 1
                    return "mid-body" if mid_body else "before"
        return None

    def clear(self) -> None:
        """Drop every fault and pending callback (the `injected` counts stay)."""
        with self._lock:
            self._pending.clear()
            self._transient = None
            self._refused.clear()
            self._drops.clear()
            self._mid_body.clear()
            self._cut_after = self._cut_after_seconds = self._cuts_left = self._cut_error = None
            self._cut_generation += 1

    # --- what the emulated API calls -----------------------------------------------------

    def intercept(self, method: str, target: str, *, watching: bool) -> KubeFault | None:
        """The fault to answer this request with, if any."""
        target = unquote(target)
        with self._lock:
            for wanted, contained, status in self._refused:
                if _method_matches(wanted, method, watching) and contained in target:
                    self.injected[f"refused {status}"] += 1
                    return KubeFault(status, _refusal(status, method, target))
            transient = self._transient
            if transient is None or transient.rng.random() >= transient.rate:
                return None
            status = int(transient.rng.choice(transient.choices))
            self.injected[str(status)] += 1
        reason = _KUBE_REASONS.get(status, "InternalError")
        if status == 429:
            retry = str(transient.extra["retry_after"])
            return KubeFault(
                status,
                _status(status, reason, "Too many requests, please try again later."),
                (("Retry-After", retry),),
            )
        return KubeFault(status, _status(status, reason, "injected transient fault"))

    def handled(self, method: str, target: str, *, watching: bool) -> None:
        """A request was handled: fire the callbacks now due."""
        key = f"{method} watch" if watching else method
        with self._lock:
            due = _take_due(self._pending, key, unquote(target))
            if due:
                self.injected["callback"] += len(due)
        for callback in due:
            _fire(callback)

    def watch_cutter(self) -> WatchCutter:
        """For one watch stream, asked after each event sent and whenever the watch is idle."""
        with self._lock:
            return WatchCutter(self, next(self._watch_ids))

    def _cut_due(self, cutter: WatchCutter, event_sent: bool) -> bool:
        with self._lock:
            if cutter.cut:
                return True
            if cutter.id < self._cut_open_below:
                return self._count_cut(cutter)
            if self._cut_after is None and self._cut_after_seconds is None:
                return False
            if cutter.generation != self._cut_generation:
                cutter.generation, cutter.sent = self._cut_generation, 0
                cutter.since = max(cutter.opened, self._cut_started)
            if event_sent:
                cutter.sent += 1
            by_events = self._cut_after is not None and cutter.sent >= self._cut_after
            seconds = self._cut_after_seconds
            by_time = seconds is not None and time.monotonic() - cutter.since >= seconds
            return (by_events or by_time) and self._count_cut(cutter)

    def _count_cut(self, cutter: WatchCutter) -> bool:
        cutter.cut = True
        cutter.error = self._cut_error if cutter.id >= self._cut_open_below else None
        self.injected["watch cut" if cutter.error is None else f"watch error {cutter.error}"] += 1
        if self._cuts_left is not None:
            self._cuts_left -= 1
            if self._cuts_left <= 0:
                self._cut_after = self._cut_after_seconds = self._cuts_left = self._cut_error = None
        return True

    def _seconds_to_cut(self, cutter: WatchCutter) -> float | None:
        with self._lock:
            seconds = self._cut_after_seconds
            if seconds is None:
                return None
            since = cutter.since if cutter.generation == self._cut_generation else None
            since = since if since is not None else max(cutter.opened, self._cut_started)
            return max(0.0, since + seconds - time.monotonic())


class WatchCutter:
    """Whether to cut one watch stream; see `KubeFaults.cut_watches` and `cut_open_watches`."""

    def __init__(self, faults: KubeFaults, watch_id: int) -> None:
        self._faults = faults
        self.id = watch_id
        self.opened = self.since = time.monotonic()
        self.generation = -1
        self.sent = 0
        self.cut = False
        self.error: int | None = None  # end with an ERROR event of this code, not a cut

    def after_event(self) -> bool:
        """Call after each event sent; True means cut the stream now."""
        return self._faults._cut_due(self, event_sent=True)

    def due(self) -> bool:
        """Whether to cut the stream now, without an event (an idle watch)."""
        return self._faults._cut_due(self, event_sent=False)

    def seconds_left(self) -> float | None:
        """Seconds until a time-based cut of this stream, if one is set."""
        return self._faults._seconds_to_cut(self)

    def error_event(self) -> dict[str, Any] | None:
        """The ERROR event to end the stream with instead of cutting it, if asked for."""
        if self.error is None:
            return None
        if self.error == 410:
            status = _status(410, "Expired", "too old resource version (injected)")
        else:
            reason = _KUBE_REASONS.get(self.error, "InternalError")
            status = _status(self.error, reason, "injected watch error")
        return {"type": "ERROR", "object": status}


def _refusal(status: int, method: str, target: str) -> dict[str, Any]:
    reason = _KUBE_REASONS.get(status, "Forbidden")
    if status == 403:
        resource = _resource_of(target)
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}.get(
            method, method.lower()
        )
        message = (
            f'{resource} is forbidden: User "system:serviceaccount:default:sandbox" '
            f'cannot {verb} resource "{resource}"'
        )
    else:
        message = f"injected permanent fault {status}"
    return _status(status, reason, message)


def _resource_of(target: str) -> str:
    """`services` from `/api/v1/namespaces/default/services/web?x=y`."""
    parts = [p for p in target.split("?")[0].split("/") if p] or ["?"]
    if "namespaces" not in parts:
        return parts[-1]
    at = parts.index("namespaces")
    return parts[at + 2] if at + 2 < len(parts) else "namespaces"
