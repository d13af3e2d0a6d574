"""The pure parts of the benchmarks: statistics, switch-window accounting, timelines."""

from __future__ import annotations

import pytest

from bench.stats import ratio, summarize
from bench.timeline import detection_latency, first_after, listener_gaps
from bench.window import Observation, account


def test_summarize_gives_median_min_max_and_runs() -> None:
    summary = summarize([0.5, 0.1, 0.3, 0.9, 0.2])

    assert (summary.median, summary.minimum, summary.maximum, summary.runs) == (
        0.3,
        0.1,
        0.9,
        5,
    )


def test_summarize_refuses_no_runs() -> None:
    with pytest.raises(ValueError, match="no measurements"):
        summarize([])


def test_ratio_is_baseline_median_over_ours() -> None:
    assert ratio(summarize([4.0, 5.0, 6.0]), summarize([0.5, 0.6])) == pytest.approx(5.0 / 0.55)


def test_window_counts_intervals_where_a_port_had_no_listener() -> None:
    seen = [
        Observation(0.00, {80: 1, 443: 1}),
        Observation(0.01, {443: 1}),
        Observation(0.03, {80: 2, 443: 1}),
        Observation(0.04, {80: 2}),
        Observation(0.05, {80: 2, 443: 2}),
        Observation(0.06, {80: 2, 443: 2}),
    ]

    totals = account(seen, [80, 443])

    assert totals.without_listener[80] == pytest.approx(0.02)
    assert totals.without_listener[443] == pytest.approx(0.01)
    assert totals.disagreeing == pytest.approx(0.01)
    assert totals.observations == 6
    assert totals.poll_rate == pytest.approx(5 / 0.06)


def test_detection_latency_runs_from_the_last_new_pod_ready_to_the_first_delete() -> None:
    new = {"bluegreen.io/color": "green", "bluegreen.io/commit": "c2"}
    old = {"bluegreen.io/color": "green", "bluegreen.io/commit": "c1"}
    events = [(10.0, new), (10.4, new), (11.0, old)]
    log = [
        (9.0, "DeleteLoadBalancerListeners"),
        (10.45, "DescribeTags"),
        (10.5, "DeleteLoadBalancerListeners"),
    ]

    assert detection_latency(events, log, "green", "c2") == pytest.approx(0.1)


def test_first_after_says_when_nothing_came() -> None:
    with pytest.raises(ValueError, match="no CreateLoadBalancerListeners"):
        first_after([(1.0, "DeleteLoadBalancerListeners")], "CreateLoadBalancerListeners", 0.0)


def test_listener_gaps_pair_each_delete_with_the_next_create() -> None:
    log = [
        (1.000, "DeleteLoadBalancerListeners"),
        (1.007, "CreateLoadBalancerListeners"),
        (1.010, "DeleteLoadBalancerListeners"),
        (1.015, "CreateLoadBalancerListeners"),
        (1.020, "ConfigureHealthCheck"),
    ]

    assert listener_gaps(log) == pytest.approx([0.007, 0.005])
