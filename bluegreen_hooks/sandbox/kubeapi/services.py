"""Service networking: clusterIP and nodePort allocation, kept stable across replaces."""

from __future__ import annotations

import ipaddress
import json
import random
import re
from typing import Any

from .errors import invalid

Obj = dict[str, Any]

NODE_PORT_MIN = 30000
NODE_PORT_MAX = 32767
# Like kube-apiserver, pick automatic ports from the upper band first so that ports users
# request explicitly (conventionally low in the range) rarely collide with automatic ones.
_DYNAMIC_START = NODE_PORT_MIN + 86
_CLUSTER_NET = ipaddress.ip_network("10.96.0.0/16")
_FIRST_HOST = 10


def _port_key(port: Obj) -> tuple[Any, str]:
    return port.get("port"), str(port.get("protocol", "TCP"))


def assign_network(service: Obj, old: Obj | None, others: list[Obj]) -> None:
    """Fill in clusterIP(s) and nodePorts of `service` in place; raises a 422 ApiError.

    `old` is the stored version when replacing; `others` are all other services in the cluster.
    """
    name = service["metadata"]["name"]
    spec = service.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    _assign_cluster_ip(name, spec, old_spec, others)
    _assign_node_ports(name, spec, old_spec, others)


def _assign_cluster_ip(name: str, spec: Obj, old_spec: Obj, others: list[Obj]) -> None:
    if spec.get("type") == "ExternalName":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
        return
    requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
    previous = old_spec.get("clusterIP")
    if previous and requested and requested != previous:
        raise invalid(
            "Service", name, [("spec.clusterIPs[0]", "Invalid value: field is immutable")]
        )
    if previous:
        requested = previous
    used = {(s.get("spec") or {}).get("clusterIP") for s in others}
    if requested and requested != "None" and not previous:
        try:
            inside = ipaddress.ip_address(requested) in _CLUSTER_NET
        except ValueError:
            inside = False
        if not inside:
            raise invalid(
                "Service",
                name,
                [
                    (
                        "spec.clusterIPs",
                        f"Invalid value: {requested!r}: failed to allocate IP {requested}: "
                        f"the provided IP ({requested}) is not in the valid range",
                    )
                ],
            )
        if requested in used:
            raise invalid(
                "Service",
                name,
                [
                    (
                        "spec.clusterIPs",
                        f"Invalid value: {requested!r}: failed to allocate IP {requested}: "
                        "provided IP is already allocated",
                    )
                ],
            )
    if not requested:
        requested = next(
            str(ip)
            for i, ip in enumerate(_CLUSTER_NET.hosts())
            if i >= _FIRST_HOST and str(ip) not in used
        )
    spec["clusterIP"] = requested
    spec["clusterIPs"] = [requested]


def _assign_node_ports(name: str, spec: Obj, old_spec: Obj, others: list[Obj]) -> None:
    ports = spec.get("ports") or []
    old_ports = {_port_key(p): p.get("nodePort") for p in old_spec.get("ports") or []}
    kind = spec.get("type", "ClusterIP")
    wants_ports = kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True)
    )
    used = {
        port.get("nodePort")
        for other in others
        for port in (other.get("spec") or {}).get("ports") or []
        if port.get("nodePort")
    }
    for i, port in enumerate(ports):
        field = f"spec.ports[{i}].nodePort"
        requested = port.get("nodePort")
        if not wants_ports:
            if requested and requested == old_ports.get(_port_key(port)):
                del port["nodePort"]  # type changed away from NodePort: drop the allocation
            elif requested and kind != "LoadBalancer":
                raise invalid(
                    "Service",
                    name,
                    [(field, f"Forbidden: may not be used when `type` is '{kind}'")],
                )
            continue
        if not requested:
            requested = old_ports.get(_port_key(port))
        if requested:
            if not isinstance(requested, int) or not NODE_PORT_MIN <= requested <= NODE_PORT_MAX:
                raise invalid(
                    "Service",
                    name,
                    [
                        (
                            field,
                            f"Invalid value: {requested}: provided port is not in the valid "
                            f"range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}",
                        )
                    ],
                )
            if requested in used:
                raise invalid(
                    "Service",
                    name,
                    [(field, f"Invalid value: {requested}: provided port is already allocated")],
                )
        else:
            requested = _free_port(used)
            if requested is None:
                raise invalid("Service", name, [(field, "Internal error: range is full")])
        port["nodePort"] = requested
        used.add(requested)


def _free_port(used: set[Any]) -> int | None:
    for low, high in ((_DYNAMIC_START, NODE_PORT_MAX), (NODE_PORT_MIN, _DYNAMIC_START - 1)):
        free = [p for p in range(low, high + 1) if p not in used]
        if free:
            return random.choice(free)
    return None


# ---------------------------------------------------------------- validation

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PORT_RANGE = "must be between 1 and 65535, inclusive"


def service_causes(spec: Any) -> list[tuple[str, str]]:
    """What kube-apiserver's ValidateService says about a (defaulted) Service spec."""
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    kind = spec.get("type", "ClusterIP")
    if kind not in _TYPES:
        return [("spec.type", _unsupported(kind, _TYPES))]
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        return [("spec.ports", "Invalid value: must be a list of ports")]
    causes: list[tuple[str, str]] = []
    headless = spec.get("clusterIP") == "None"
    if not ports and kind != "ExternalName" and not headless:
        causes.append(("spec.ports", "Required value"))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    node_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        field = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            causes.append((field, "Invalid value: must be a port object"))
            continue
        causes += _port_causes(field, port, len(ports) > 1, names)
        key = (port.get("port"), port.get("protocol"))
        if key in seen:
            causes.append((field, f"Duplicate value: {{port: {key[0]}, protocol: {key[1]}}}"))
        seen.add(key)
        node_port = port.get("nodePort")
        if node_port:
            if (node_port, port.get("protocol")) in node_ports:
                causes.append((f"{field}.nodePort", f"Duplicate value: {node_port}"))
            node_ports.add((node_port, port.get("protocol")))
    return causes


def _port_causes(field: str, port: Obj, several: bool, names: set[str]) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    name = port.get("name") or ""
    if several and not name:
        causes.append((f"{field}.name", "Required value"))
    elif name:
        if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.fullmatch(name):
            causes.append(
                (
                    f"{field}.name",
                    f"Invalid value: {_show(name)}: a lowercase RFC 1123 label must consist of "
                    "lower case alphanumeric characters or '-', and must start and end with an "
                    "alphanumeric character",
                )
            )
        elif name in names:
            causes.append((f"{field}.name", f"Duplicate value: {_show(name)}"))
        names.add(str(name))
    number = port.get("port")
    if not _valid_port_number(number):
        causes.append((f"{field}.port", f"Invalid value: {_show(number)}: {_PORT_RANGE}"))
    protocol = port.get("protocol")
    if protocol not in _PROTOCOLS:
        causes.append((f"{field}.protocol", _unsupported(protocol, _PROTOCOLS)))
    target = port.get("targetPort")
    if isinstance(target, str):
        problem = port_name_problem(target)
        if problem:
            causes.append((f"{field}.targetPort", f"Invalid value: {_show(target)}: {problem}"))
    elif target is not None and not _valid_port_number(target):
        causes.append((f"{field}.targetPort", f"Invalid value: {_show(target)}: {_PORT_RANGE}"))
    return causes


def _valid_port_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def port_name_problem(name: str) -> str | None:
    """Why `name` is not an IANA_SVC_NAME (a named port), as apimachinery words it."""
    if len(name) > 15:
        return "must be no more than 15 characters"
    if not re.fullmatch(r"[-a-z0-9]+", name):
        return "must contain only alphanumeric characters (a-z, 0-9), and hyphens (-)"
    if not re.search(r"[a-z]", name):
        return "must contain at least one letter (a-z)"
    if "--" in name:
        return "must not contain consecutive hyphens"
    if name.startswith("-") or name.endswith("-"):
        return "must not begin or end with a hyphen"
    return None


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def _unsupported(value: Any, supported: tuple[str, ...]) -> str:
    return f"Unsupported value: {_show(value)}: supported values: " + ", ".join(
        f'"{s}"' for s in supported
    )
