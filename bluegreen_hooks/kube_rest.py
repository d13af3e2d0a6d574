"""REST calls through the official client's ApiClient (auth, TLS, kubeconfig), as plain JSON.

The generated typed API classes cost over a second to import; the few paths a deploy needs
are sent through the same client without them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes.client.api_client import ApiClient
from kubernetes.client.exceptions import ApiException

from bluegreen_hooks.endpoints import refused_hint
from bluegreen_hooks.errors import DeployFailed

Object = dict[str, Any]

_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


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
        try:
            buffer = b""
            for chunk in raw.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event: Object = json.loads(line)
                        if event.get("type") == "ERROR":
                            status = event.get("object") or {}
                            raise ApiException(
                                status=status.get("code"), reason=status.get("message")
                            )
                        yield event
        finally:
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
        params = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()]
        _, url, headers, payload, _ = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=dict(_JSON),
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._client.call_api(
                method, url, header_params=headers, body=payload, _request_timeout=timeout
            )
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DeployFailed(
                f"Kubernetes API at {self._client.configuration.host} not reachable: "
                f"{_short(reason)}",
                hint=refused_hint(exc) or "check KUBECONFIG and that the API server answers",
            ) from exc
        if stream and 200 <= response.status <= 299:
            return response
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(
                http_resp=response, body=response.data.decode("utf-8", "replace"), data=None
            )
        return response


def _short(reason: object) -> str:
    """`[Errno 111] Connection refused` rather than urllib3's whole repr."""
    text = str(reason)
    return text.rsplit(": ", 1)[-1].rstrip("')\"") if "Errno" in text else text
