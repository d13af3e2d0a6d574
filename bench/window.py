"""Pure accounting of a switch window: time without a listener, time with listeners disagreeing."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    """One poll of the load balancer: when (seconds, any clock) and public port -> instance port."""

    time: float
    instance_ports: Mapping[int, int]


@dataclass(frozen=True)
class WindowTotals:
    """What an observer saw during one switch."""

    without_listener: Mapping[int, float]  # public port -> seconds with no listener on it
    disagreeing: float  # seconds with every port present but forwarding to different ports
    observations: int
    duration: float  # first to last observation, seconds

    @property
    def poll_rate(self) -> float:
        """Observations per second."""
        return (self.observations - 1) / self.duration if self.duration > 0 else 0.0


def account(observations: Sequence[Observation], ports: Sequence[int]) -> WindowTotals:
    """Add up, per condition, the intervals between consecutive observations where it held.

    The interval from observation i to i+1 counts when the condition held at observation i:
    as far as the observer knows, the state it saw lasted until its next look. A window
    shorter than the poll interval can be missed or counted as one whole interval, so the
    poll rate bounds the resolution.
    """
    missing = dict.fromkeys(ports, 0.0)
    disagreeing = 0.0
    for seen, following in itertools.pairwise(observations):
        interval = following.time - seen.time
        present = [seen.instance_ports[p] for p in ports if p in seen.instance_ports]
        for port in ports:
            if port not in seen.instance_ports:
                missing[port] += interval
        if len(present) == len(ports) and len(set(present)) > 1:
            disagreeing += interval
    duration = observations[-1].time - observations[0].time if observations else 0.0
    return WindowTotals(missing, disagreeing, len(observations), duration)
