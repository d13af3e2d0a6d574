"""What the wait for Ready has seen: readiness over time, each pod's trouble, whether the
replicas are stable enough to switch to, and whether waiting on can help. Pure: the caller
feeds it what it reads and the time (`time.monotonic()`).

The rules (README, "Waiting for Ready"):
- ready: the workload is fully rolled out (`readiness.workload_readiness`, the way
  `kubectl rollout status` decides) and has stayed so for `wait.stable-for` seconds in a row
  (default 0), or for `wait.stable-after-unready` (default 10) once the wait has seen a Ready
  replica turn unready.
- hopeless: every pod of the release is failing to pull its image for `wait.image-pull-grace`
  seconds (as seen by us), or crash-looping with at least `wait.crash-restarts` restarts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bluegreen_hooks.config import WaitPolicy
from bluegreen_hooks.pod_trouble import PodTrouble, pod_trouble
from bluegreen_hooks.readiness import Readiness, worth_showing

Object = dict[str, Any]
Note = tuple[str, str, dict[str, Any]]  # a line to log: level, event, fields


@dataclass
class Vigil:
    """One workload's wait: fed readiness (from its status) and its pods, asked what to do."""

    policy: WaitPolicy
    started: float
    deadline: float
    last: Readiness | None = None
    drops: int = 0  # times the number of Ready replicas went down
    complete_since: float | None = None
    troubles: list[PodTrouble] = field(default_factory=list)  # worst first
    pods: int = 0  # the release's pods at the last look (terminating ones aside)
    _shown: Readiness | None = None  # readiness of the last line logged on a change
    _hold_told: bool = False  # whether a line said that Ready must last
    _pull_failing_since: dict[str, float] = field(default_factory=dict)  # pod uid -> when seen

    # --- readiness ----------------------------------------------------------------

    def see_readiness(self, readiness: Readiness, now: float) -> list[Note]:
        """Record the workload's readiness; returns the lines worth logging about it.

        Only a drop between two settled states counts: while a rollout replaces pods, old
        Ready ones going away is the plan, not a wobble."""
        last = self.last
        dropped = (
            last is not None and last.settled and readiness.settled and readiness.ready < last.ready
        )
        self.drops += dropped
        if not readiness.complete:
            self.complete_since = None
        elif self.complete_since is None:
            self.complete_since = now
        self.last = readiness
        notes: list[Note] = []
        if dropped and self.drops == 1:
            notes.append(("warning", "a Ready replica turned unready", self.progress(now)))
            self._shown = readiness
        if worth_showing(readiness, self._shown):
            notes.append(("info", "waiting for pods", self.progress(now)))
            self._shown = readiness
        if self.hold and self.complete_since == now and not self._hold_told:
            notes.append(("info", "all Ready; checking they stay Ready", {"seconds": self.hold}))
            self._hold_told = True
        return notes

    def slice_end(self, now: float) -> float:
        """Where the current stretch of watching ends: the next progress line, the end of the
        hold, or the deadline, whichever comes first."""
        return min(self.deadline, now + self.policy.progress_every, self.stable_at() or now + 1e9)

    @property
    def hold(self) -> float:
        """How long every replica must stay Ready, in a row, before it counts."""
        after_unready = self.policy.stable_after_unready if self.drops else 0.0
        return max(self.policy.stable_for, after_unready)

    def stable_at(self) -> float | None:
        """When every replica will have been Ready long enough to switch; None while not all
        of them are."""
        if self.complete_since is None:
            return None
        return self.complete_since + self.hold

    def may_switch(self, now: float) -> bool:
        at = self.stable_at()
        return at is not None and now >= at

    # --- pods ----------------------------------------------------------------------

    def see_pods(self, pods: Iterable[Object], now: float) -> None:
        """Record the release's pods: each one's trouble, and since when it fails to pull."""
        live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
        troubles = [t for t in map(pod_trouble, live) if t is not None]
        pulling = {t.uid for t in troubles if t.image_pull}
        self._pull_failing_since = {uid: self._pull_failing_since.get(uid, now) for uid in pulling}
        self.pods = len(live)
        self.troubles = sorted(troubles, key=lambda t: (-t.rank, t.pod))

    @property
    def worst(self) -> PodTrouble | None:
        return self.troubles[0] if self.troubles else None

    def hopeless(self, now: float) -> list[PodTrouble]:
        """Every pod's trouble, when each one is in a state that will not end by itself; else
        an empty list."""
        if not self.pods or len(self.troubles) < self.pods:
            return []
        for trouble in self.troubles:
            if trouble.image_pull:
                since = self._pull_failing_since.get(trouble.uid, now)
                if now - since < self.policy.image_pull_grace:
                    return []
            elif trouble.restarts < self.policy.crash_restarts:
                return []
        return list(self.troubles)

    # --- what to say ---------------------------------------------------------------

    def progress(self, now: float) -> dict[str, Any]:
        """The fields of a progress line: counts, seconds gone and left, the worst pod."""
        readiness = self.last or Readiness(0, 0, False)
        fields: dict[str, Any] = {
            "progress": f"{readiness.ready}/{readiness.desired} ready",
            "ready": readiness.ready,
            "desired": readiness.desired,
            "elapsed": round(now - self.started),
            "remaining": max(0, round(self.deadline - now)),
        }
        if self.drops:
            fields["unready_turns"] = self.drops
        worst = self.worst
        if worst is not None and not readiness.complete:
            fields.update(pod=worst.pod, reason=worst.reason)
            if worst.restarts:
                fields["restarts"] = worst.restarts
            if worst.message:
                fields["message"] = worst.message
        return fields


def summary(troubles: list[PodTrouble], details: dict[str, str], limit: int = 3) -> str:
    """`pod a: ...; pod b: ...` for the worst few (and how many more)."""
    shown = [t.describe(details.get(t.pod, "")) for t in troubles[:limit]]
    more = len(troubles) - limit
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
