"""What the config says about gates: one frozen dataclass per gate type, and the two phases.

A leaf module (no imports from the rest of the package), so that `config.py` can name these
types without loading anything that runs a gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

Phase = Literal["before-switch", "after-switch"]
PHASES: tuple[Phase, ...] = ("before-switch", "after-switch")
DEFAULT_HEALTH_PATH = "/healthcheck"


@dataclass(frozen=True)
class HttpGate:
    """N consecutive 2xx answers from the color's NodePort on every node, within `timeout`."""

    kind: ClassVar[str] = "http"
    path: str = DEFAULT_HEALTH_PATH
    successes: int = 3
    timeout: float = 60.0
    interval: float = 1.0
    attempt_timeout: float = 5.0

    def describe(self) -> str:
        return f"http {self.path}"


@dataclass(frozen=True)
class CommandGate:
    """A program that passes on exit 0: a shell line (str) or an argv (tuple)."""

    kind: ClassVar[str] = "command"
    run: str | tuple[str, ...] = ""
    timeout: float = 300.0

    def describe(self) -> str:
        text = self.run if isinstance(self.run, str) else " ".join(self.run)
        return f"command {text if len(text) <= 60 else text[:57] + '...'}"


@dataclass(frozen=True)
class ElbHealthGate:
    """Every instance registered with the load balancer InService, within `timeout`."""

    kind: ClassVar[str] = "elb-health"
    timeout: float = 120.0
    interval: float = 5.0

    def describe(self) -> str:
        return "elb-health"


@dataclass(frozen=True)
class AlarmsGate:
    """CloudWatch alarms that must stay out of ALARM for `watch` seconds."""

    kind: ClassVar[str] = "alarms"
    names: tuple[str, ...] = ()
    watch: float = 60.0
    interval: float = 10.0

    def describe(self) -> str:
        shown = ", ".join(self.names[:3]) + (", ..." if len(self.names) > 3 else "")
        return f"alarms {shown}"


Gate = HttpGate | CommandGate | ElbHealthGate | AlarmsGate
GATE_KINDS: tuple[str, ...] = ("http", "command", "elb-health", "alarms")


def default_before_switch(health_path: str = DEFAULT_HEALTH_PATH) -> tuple[Gate, ...]:
    """A plain config is safe: the release must answer its health-check path first."""
    return (HttpGate(path=health_path),)


def longest_seconds(gates: tuple[Gate, ...]) -> float:
    """How long a phase's gates may take at most (each gate's timeout or watch, in turn)."""
    return sum(gate.watch if isinstance(gate, AlarmsGate) else gate.timeout for gate in gates)


@dataclass(frozen=True)
class Gates:
    """The gates of each phase, in the order they run."""

    before_switch: tuple[Gate, ...] = field(default_factory=default_before_switch)
    after_switch: tuple[Gate, ...] = ()

    def of(self, phase: Phase) -> tuple[Gate, ...]:
        return self.before_switch if phase == "before-switch" else self.after_switch
