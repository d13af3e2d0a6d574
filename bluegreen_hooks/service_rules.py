"""The rules an API server applies to a Service's ports, checked before anything is sent.

A cluster refuses these with 422 once the deploy has started; checked on the rendered
templates, they stop the run as a template error (exit 2) before any call.
"""

from __future__ import annotations

import re
from typing import Any

Manifest = dict[str, Any]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PROTOCOLS = ("TCP", "UDP", "SCTP")


def service_problem(manifest: Manifest) -> str | None:
    """The first thing wrong with a Service's ports, as `field: what`, or None."""
    spec = manifest.get("spec") or {}
    ports = spec.get("ports") or []
    if not ports:
        if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
            return "spec.ports: a Service needs at least one port"
        return None
    names: set[str] = set()
    pairs: set[tuple[Any, str]] = set()
    for i, port in enumerate(ports):
        field = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            return f"{field}.name: every port needs a name when there are several"
        if name and (len(name) > 63 or not _DNS_LABEL.fullmatch(name)):
            return f"{field}.name: {name!r} is not a lowercase RFC 1123 label"
        if name in names:
            return f"{field}.name: {name!r} is used twice"
        names.add(name)
        protocol = str(port.get("protocol") or "TCP")
        if protocol not in _PROTOCOLS:
            return f"{field}.protocol: {protocol!r} is not one of {', '.join(_PROTOCOLS)}"
        pair = (port.get("port"), protocol)
        if pair in pairs:
            return f"{field}: port {pair[0]}/{protocol} is listed twice"
        pairs.add(pair)
        target = port.get("targetPort")
        problem = _target_problem(target) if target is not None else None
        if problem:
            return f"{field}.targetPort: {target!r} {problem}"
    return None


def _target_problem(target: Any) -> str | None:
    if isinstance(target, int) and not isinstance(target, bool):
        return None if 1 <= target <= 65535 else "is not a port from 1 to 65535"
    text = str(target)
    if text.isdigit():
        return None if 1 <= int(text) <= 65535 else "is not a port from 1 to 65535"
    if (
        len(text) > 15
        or not re.fullmatch(r"[-a-z0-9]+", text)
        or not re.search(r"[a-z]", text)
        or "--" in text
        or text.startswith("-")
        or text.endswith("-")
    ):
        return "is neither a port number nor a port name (IANA_SVC_NAME: a-z, 0-9, '-')"
    return None
