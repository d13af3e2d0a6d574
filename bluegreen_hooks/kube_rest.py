"""REST calls through the official client's ApiClient (auth, TLS, kubeconfig), as plain JSON.

The generated typed API classes cost over a second to import; the few paths a deploy needs
are sent through the same client without them. Transient faults (429, 5xx, connection errors)
are retried here, with backoff, for requests that are safe to repeat; a 403 becomes a
DeployFailed that says how to fix it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes.client.api_client import ApiClient
from kubernetes.client.exceptions import ApiException

from bluegreen_hooks.endpoints import refused_hint
from bluegreen_hooks.errors import DeployFailed
from bluegreen_hooks.logs import get_logger

Object = dict[str, Any]

_JSON = {"Accept": "application/json", "Content-Type": "application/json"}

# Transient faults: retried with exponential backoff and jitter (or the server's Retry-After),
# at most MAX_ATTEMPTS times in all, a few seconds altogether.
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.2
MAX_RETRY_AFTER_SECONDS = 10.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class WatchInterrupted(Exception):
    """A watch stream broke off mid-way (connection dropped); resume from the last version."""


class WatchError(ApiException):
    """A watch stream ended with an ERROR event: `status` is its Status's code (410: the
    history expired; 5xx: the server's trouble, e.g. an etcd timeout)."""


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): 0.2, 0.4, 0.8 ... with jitter."""
    return BACKOFF_SECONDS * float(2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def _retry_after(response: Any) -> float | None:
    value = (response.headers or {}).get("Retry-After")
    try:
        return min(float(value), MAX_RETRY_AFTER_SECONDS) if value is not None else None
    except ValueError:
        return None


def _safe_to_retry(method: str) -> bool:
    """Whether repeating the request cannot do anything twice.

    GET and DELETE are idempotent; every PUT carries a resourceVersion, so a repeat after a
    write that landed fails with 409 instead of writing again. A POST that met 429 or a refused
    connection was never carried out; after a 5xx or a dropped connection it may have been,
    and the caller recognises its own object in the 409 that the repeat then meets (a
    manifest by its content hash, the lock by its holder). PATCH (unused) is not repeated.
    """
    return method in ("GET", "DELETE", "PUT", "POST")


class Rest:
    """get / list / create / delete / watch on API paths, returning decoded JSON."""

    def __init__(self, api_client: ApiClient) -> None:
        self._client: Any = api_client

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Object | None = None,
        timeout: float | None = 30,
        query: dict[str, str | int | bool] | None = None,
    ) -> Object:
        response = self._send(method, path, body=body, timeout=timeout, query=query or {})
        data: Object = json.loads(response.data or b"{}")
        return data

    def get(self, path: str, **query: str | int | bool) -> Object:
        return self.request("GET", path, query=query)

    def find(self, path: str) -> Object | None:
        """The object at `path`, or None when it does not exist."""
        try:
            return self.get(path)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, path: str, body: Object) -> Object:
        """POST. A retry after a 5xx or a dropped connection may meet 409 for the object the
        first attempt created: callers recognise their own (a manifest's hash, a Lease's holder)."""
        return self.request("POST", path, body=body)

    def replace(self, path: str, body: Object) -> Object:
        return self.request("PUT", path, body=body)

    def delete(self, path: str, **query: str | int | bool) -> Object | None:
        """Delete; None if it was already gone."""
        try:
            return self.request("DELETE", path, query=query)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def watch(
        self, path: str, *, timeout_seconds: int, **query: str | int | bool
    ) -> Iterator[Object]:
        """Watch events on a collection; the stream ends after `timeout_seconds`."""
        response = self._send(
            "GET",
            path,
            body=None,
            timeout=timeout_seconds + 10,
            query={**query, "watch": "true", "timeoutSeconds": timeout_seconds},
            stream=True,
        )
        raw = response.response
        ended = False
        try:
            buffer = b""
            for chunk in _chunks(raw):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield _event(line)
            ended = True
        finally:
            if not ended:
                # Left mid-stream (the caller stopped reading, or it broke): release_conn
                # alone would pool a connection the server is still streaming on.
                raw.close()
            raw.release_conn()

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Object | None,
        timeout: float | None,
        query: dict[str, Any],
        stream: bool = False,
    ) -> Any:
        """One request, retried on 429, 5xx and connection errors (see `_safe_to_retry`)."""
        params = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()]
        _, url, headers, payload, _ = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=dict(_JSON),
            body=body,
            auth_settings=["BearerToken"],
        )
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                response = self._client.call_api(
                    method, url, header_params=headers, body=payload, _request_timeout=timeout
                )
                if not (stream and 200 <= response.status <= 299):
                    response.read()  # a body cut off mid-way fails here, like a refused call
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if last or not _safe_to_retry(method):
                    raise self._unreachable(exc) from exc
                self._wait_to_retry(method, path, attempt, None, _short(_reason(exc)))
                continue
            if stream and 200 <= response.status <= 299:
                return response
            if 200 <= response.status <= 299:
                return response
            if response.status in RETRIED_STATUSES and not last and _safe_to_retry(method):
                self._wait_to_retry(
                    method, path, attempt, _retry_after(response), f"HTTP {response.status}"
                )
                continue
            raise self._refused(method, path, response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _refused(method: str, path: str, response: Any) -> Exception:
        """The client's ApiException for an error answer (DeployFailed with a fix for 403)."""
        try:  # the client raises it rather than returning it
            ApiException.from_response(
                http_resp=response, body=response.data.decode("utf-8", "replace"), data=None
            )
        except ApiException as error:
            if error.status == 403:
                refused = DeployFailed(
                    f"Kubernetes refused {method} {path}: {describe_api_error(error)}",
                    hint="the identity in KUBECONFIG lacks a permission: grant what "
                    "docs/rbac.yaml lists, in this namespace",
                )
                refused.__cause__ = error
                return refused
            return error
        return ApiException(status=response.status, reason=response.reason)

    def _wait_to_retry(
        self, method: str, path: str, attempt: int, retry_after: float | None, why: str
    ) -> None:
        delay = retry_after if retry_after is not None else backoff(attempt)
        get_logger().warning(
            "Kubernetes request failed; retrying",
            request=f"{method} {path}",
            error=why,
            attempt=attempt,
            retry_in=round(delay, 2),
        )
        time.sleep(delay)

    def _unreachable(self, exc: Exception) -> DeployFailed:
        return DeployFailed(
            f"Kubernetes API at {self._client.configuration.host} not reachable: "
            f"{_short(_reason(exc))}",
            hint=refused_hint(exc) or "check KUBECONFIG and that the API server answers",
        )


def describe_api_error(exc: ApiException) -> str:
    """The server's own message from a Status body, else the HTTP reason."""
    try:
        status = json.loads(exc.body or "{}")
    except ValueError:
        status = {}
    if not isinstance(status, dict) or "message" not in status:
        return f"HTTP {exc.status} {exc.reason}"
    return f"{status.get('reason', exc.reason)}: {status['message']}"


def _event(line: bytes) -> Object:
    """One watch event; an ERROR event is raised as the ApiException its Status describes."""
    try:
        event: Object = json.loads(line)
    except ValueError as exc:  # not JSON: treat it like a broken stream and resume
        raise WatchInterrupted(f"unreadable watch event ({exc})") from exc
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise WatchError(status=status.get("code"), reason=status.get("message"))
    return event


def _chunks(raw: Any) -> Iterator[bytes]:
    """A watch response's body as it arrives; a connection that drops is WatchInterrupted."""
    try:
        yield from raw.stream(amt=None, decode_content=False)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise WatchInterrupted(_short(_reason(exc))) from exc


def _reason(exc: Exception) -> object:
    return getattr(exc, "reason", None) or exc


def _short(reason: object) -> str:
    """`[Errno 111] Connection refused` rather than urllib3's whole repr."""
    text = str(reason)
    return text.rsplit(": ", 1)[-1].rstrip("')\"") if "Errno" in text else text
