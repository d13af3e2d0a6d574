"""How the emulated cluster counts the durations objects ask for, scaled down for the sandbox.

A real cluster waits out a pod's 30 s termination grace period and a Deployment's 600 s
progress deadline; the sandbox scales them so tests stay fast while the order of events
stays the same: `grace_scale` for termination grace periods, `progress_scale` for
`minReadySeconds` and `progressDeadlineSeconds`.
"""

from __future__ import annotations

DEFAULT_GRACE_SCALE = 0.001  # a 30 s grace period lasts 0.03 s
DEFAULT_PROGRESS_SCALE = 0.1  # the default 600 s progress deadline lasts 60 s


class Timing:
    """Scale factors, changeable while the emulator runs (the controller rereads them)."""

    def __init__(
        self,
        grace_scale: float = DEFAULT_GRACE_SCALE,
        progress_scale: float = DEFAULT_PROGRESS_SCALE,
    ) -> None:
        self.grace_scale = grace_scale
        self.progress_scale = progress_scale

    def grace(self, seconds: float) -> float:
        """Wall-clock seconds the sandbox takes for a grace period of `seconds`."""
        return max(0.0, seconds) * self.grace_scale

    def progress(self, seconds: float) -> float:
        """Wall-clock seconds for `minReadySeconds` or `progressDeadlineSeconds` of `seconds`."""
        return max(0.0, seconds) * self.progress_scale
