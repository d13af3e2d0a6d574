"""Health gates: checks a release must pass before it takes traffic, and after.

`run_phase(run, phase, color)` is the one entry point (deploy, the hooks, `bluegreen verify`
and other routers call it). This module stays light: `config.py` imports `gates.spec` through
it, and commands that never run a gate must not pay for the HTTP, AWS or Kubernetes code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen_hooks.colors import Color, Ports
    from bluegreen_hooks.gates.report import GateReport
    from bluegreen_hooks.gates.spec import Phase
    from bluegreen_hooks.lifecycle import Run

__all__ = ["run_phase"]


def run_phase(
    run: Run,
    phase: Phase,
    color: Color,
    *,
    ports: Ports | None = None,
    commit: str | None = None,
    keep_going: bool = False,
) -> GateReport:
    """Run `phase`'s gates ("before-switch": the structural check first) against `color`.

    `ports` are both colors' NodePorts (read from the router when not given); `commit` is the
    color's release (its pods are the ones the structural check expects). Stops at the first
    failing gate unless `keep_going`. Touches nothing: the caller decides what a failure means.
    """
    from bluegreen_hooks.gates.runner import run_phase as run_gates

    return run_gates(run, phase, color, ports=ports, commit=commit, keep_going=keep_going)
