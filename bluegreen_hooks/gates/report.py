"""What gates found: one result per gate, a report per phase, as text and as JSON."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from bluegreen_hooks import logs
from bluegreen_hooks.colors import Color
from bluegreen_hooks.gates.spec import Phase

MAX_ATTEMPTS_KEPT = 200  # a 60 s gate polling every 0.1 s; the summary counts them all anyway


@dataclass(frozen=True)
class GateResult:
    """One gate (or the structural check): whether it passed, and what it saw on the way."""

    gate: str  # "http /healthcheck", "command ./smoke-test.sh", "structure", ...
    kind: str
    passed: bool
    summary: str  # one line: what it proved, or why it failed
    attempts: tuple[str, ...] = ()  # each attempt's outcome, oldest first
    output: tuple[str, ...] = ()  # a command's last output lines
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "kind": self.kind,
            "passed": self.passed,
            "summary": self.summary,
            "attempts": list(self.attempts),
            "output": list(self.output),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class GateReport:
    """The gates of one phase, run against one color."""

    phase: Phase
    color: Color
    port: int
    results: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> tuple[GateResult, ...]:
        return tuple(result for result in self.results if not result.passed)

    def failure(self) -> str:
        """One line (or a few, with a command's output): which gate failed and what it saw."""
        parts = []
        for result in self.failed:
            text = f"{self.phase} gate {result.gate} failed on {self.color} (port {self.port}):"
            text += f" {result.summary}"
            if result.output:
                text += "\n  last output:" + "".join(f"\n  | {line}" for line in result.output)
            parts.append(text)
        return "\n".join(parts) or f"{self.phase} gates passed on {self.color}"

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "color": self.color,
            "port": self.port,
            "passed": self.passed,
            "gates": [result.to_json() for result in self.results],
        }


def summarise_attempts(attempts: list[str] | tuple[str, ...], *, limit: int = 6) -> str:
    """`500 Internal Server Error x4, then connection refused x2`: runs of equal outcomes."""
    runs = [(outcome, len(list(group))) for outcome, group in groupby(attempts)]
    words = [f"{outcome} x{count}" if count > 1 else outcome for outcome, count in runs]
    if len(words) > limit:
        words = [*words[: limit // 2], f"({len(words) - limit} more)", *words[-(limit // 2) :]]
    return ", then ".join(words)


def kept(attempts: list[str]) -> tuple[str, ...]:
    """The attempts a report keeps: all of them, or the first and last ones of a long run."""
    if len(attempts) <= MAX_ATTEMPTS_KEPT:
        return tuple(attempts)
    half = MAX_ATTEMPTS_KEPT // 2
    skipped = len(attempts) - MAX_ATTEMPTS_KEPT
    return (*attempts[:half], f"... {skipped} more ...", *attempts[-half:])


class Attempts:
    """A gate's attempts, oldest first; a log line each time the outcome changes."""

    def __init__(self, gate: str) -> None:
        self.gate = gate
        self.outcomes: list[str] = []

    def add(self, outcome: str) -> None:
        if not self.outcomes or outcome != self.outcomes[-1]:
            logs.get_logger().info(
                "gate attempt", gate=self.gate, outcome=outcome, attempt=len(self.outcomes) + 1
            )
        self.outcomes.append(outcome)

    def __len__(self) -> int:
        return len(self.outcomes)

    def summary(self) -> str:
        return summarise_attempts(self.outcomes)

    def kept(self) -> tuple[str, ...]:
        return kept(self.outcomes)

    def result(self, kind: str, passed: bool, summary: str, started: float) -> GateResult:
        """The gate's result from these attempts, timed from `started` (time.monotonic())."""
        return GateResult(
            self.gate, kind, passed, summary, self.kept(), seconds=time.monotonic() - started
        )
