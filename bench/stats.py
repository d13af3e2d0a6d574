"""Pure statistics for the benchmarks: median, min and max of repeated runs, and ratios."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one figure, reduced to median, min and max."""

    median: float
    minimum: float
    maximum: float
    runs: int


def summarize(values: Sequence[float]) -> Summary:
    """Median, min and max of `values` (at least one)."""
    if not values:
        raise ValueError("no measurements to summarize")
    return Summary(
        median=float(statistics.median(values)),
        minimum=float(min(values)),
        maximum=float(max(values)),
        runs=len(values),
    )


def ratio(baseline: Summary, ours: Summary) -> float:
    """How many times the baseline's median exceeds ours (inf when ours is zero)."""
    if ours.median <= 0:
        return float("inf")
    return baseline.median / ours.median
