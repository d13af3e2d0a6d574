"""What a gate needs to know about the run: the color under test, where to reach it, clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bluegreen_hooks.colors import Color, Ports, other
from bluegreen_hooks.config import Config
from bluegreen_hooks.gates.spec import Phase

if TYPE_CHECKING:
    from bluegreen_hooks.kube import Cluster


@dataclass
class GateContext:
    """One phase's gates against one color. Clients and node addresses are made when needed."""

    config: Config
    phase: Phase
    color: Color
    ports: Ports
    commit: str | None
    deployment_id: str
    workdir: Path
    cluster: Callable[[], Cluster]
    _addresses: tuple[str, ...] | None = field(default=None, init=False)

    @property
    def port(self) -> int:
        return self.ports.of(self.color)

    @property
    def old_color(self) -> Color:
        return other(self.color)

    def node_addresses(self) -> tuple[str, ...]:
        """`node-addresses` from the config, else each Ready node's InternalIP (read once)."""
        if self._addresses is None:
            if self.config.node_addresses is not None:
                self._addresses = self.config.node_addresses
            else:
                from bluegreen_hooks.gates.nodes import internal_addresses

                self._addresses = internal_addresses(self.cluster())
        return self._addresses

    def command_env(self) -> dict[str, str]:
        """What a command gate finds in its environment (besides ours)."""
        addresses = self.node_addresses()
        commit = self.commit or ""
        return {
            "GATE_PHASE": self.phase,
            "NEW_COLOR": self.color,
            "NEW_PORT": str(self.port),
            "OLD_COLOR": self.old_color,
            "OLD_PORT": str(self.ports.of(self.old_color)),
            "NODE_ADDRESSES": " ".join(addresses),
            "NEW_URL": f"http://{_host(addresses[0])}:{self.port}" if addresses else "",
            "COMMIT": commit,
            "SHORT_COMMIT": commit[:7],
            "APPLICATION": self.config.application_name,
            "APPLICATION_NAME": self.config.application_name,
            "NAMESPACE": self.config.namespace,
            "DEPLOYMENT_ID": self.deployment_id,
            "ELB_NAME": self.config.elb_name,
        }


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
