"""A refused connection on loopback points at the sandbox; anywhere else it does not."""

from __future__ import annotations

import socket

import pytest
import urllib3
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NewConnectionError

from bluegreen_hooks.endpoints import SANDBOX_HINT, is_loopback, refused_hint


def _dead_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_refused_loopback_connection_asks_whether_the_sandbox_runs() -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", _dead_loopback_port(), retries=False)

    with pytest.raises(urllib3.exceptions.HTTPError) as caught:
        pool.request("GET", "/")

    assert refused_hint(caught.value) == SANDBOX_HINT


def test_a_refused_connection_elsewhere_gets_no_sandbox_hint() -> None:
    error = NewConnectionError(HTTPConnection("10.1.2.3", 443), "Connection refused")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")

    assert refused_hint(error) is None


def test_a_loopback_failure_other_than_refused_gets_no_sandbox_hint() -> None:
    error = NewConnectionError(HTTPConnection("127.0.0.1", 1), "timed out")
    error.__cause__ = TimeoutError("timed out")

    assert refused_hint(error) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("elb.amazonaws.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
