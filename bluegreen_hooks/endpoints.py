"""What to say when nothing answered at an endpoint: on loopback, that is the sandbox."""

from __future__ import annotations

SANDBOX_HINT = "is the sandbox running? start it with `bluegreen sandbox` (then `. sandbox.env`)"


def refused_hint(exc: BaseException) -> str | None:
    """The sandbox hint when `exc` is (caused by) a refused connection to a loopback host."""
    chain: list[BaseException] = []
    error: BaseException | None = exc
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    if not any(isinstance(e, ConnectionRefusedError) for e in chain):
        return None
    hosts = (getattr(getattr(e, "conn", None), "host", None) for e in chain)  # urllib3's errors
    return SANDBOX_HINT if any(is_loopback(h) for h in hosts if isinstance(h, str)) else None


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
