"""Where NodePorts answer: the InternalIP of every node that is not known to be unready."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen_hooks.kube import Cluster


def internal_addresses(cluster: Cluster) -> tuple[str, ...]:
    """Each node's InternalIP, in the API's order, skipping nodes whose Ready condition is not
    True (a node without conditions counts: some clusters report none)."""
    nodes = cluster.rest.get("/api/v1/nodes").get("items") or []
    found: list[str] = []
    for node in nodes:
        status = node.get("status") or {}
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        if ready and ready[0].get("status") != "True":
            continue
        for address in status.get("addresses") or []:
            if address.get("type") == "InternalIP" and address.get("address"):
                found.append(str(address["address"]))
                break
    return tuple(dict.fromkeys(found))
