"""waiting.Vigil: stability after a drop, hopeless pods, progress fields."""

from __future__ import annotations

from typing import Any

from bluegreen_hooks.config import WaitPolicy
from bluegreen_hooks.readiness import Readiness
from bluegreen_hooks.waiting import Vigil, summary

POLICY = WaitPolicy(image_pull_grace=30, crash_restarts=3, stable_for=0, stable_after_unready=10)


def vigil(policy: WaitPolicy = POLICY) -> Vigil:
    return Vigil(policy, started=100.0, deadline=300.0)


def pulling(name: str) -> Any:
    waiting = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}
    return {
        "metadata": {"name": name, "uid": name},
        "status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": waiting}}]},
    }


def crashing(name: str, restarts: int) -> Any:
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed"}
    return {
        "metadata": {"name": name, "uid": name},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"state": {"waiting": waiting}, "restartCount": restarts}],
        },
    }


def ready(name: str) -> Any:
    return {
        "metadata": {"name": name, "uid": name},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_all_ready_at_once_switches_at_once() -> None:
    v = vigil()
    v.see_readiness(Readiness(1, 2, True), 101)
    v.see_readiness(Readiness(2, 2, True), 102)

    assert v.may_switch(102)


def test_after_a_drop_ready_must_last() -> None:
    v = vigil()
    v.see_readiness(Readiness(1, 2, True), 101)
    notes = v.see_readiness(Readiness(0, 2, True), 102)  # a Ready replica turned unready
    assert notes[0][:2] == ("warning", "a Ready replica turned unready")
    assert v.drops == 1
    v.see_readiness(Readiness(2, 2, True), 103)

    assert not v.may_switch(112.9)
    assert v.stable_at() == 113
    assert v.may_switch(113)


def test_a_new_drop_restarts_the_hold() -> None:
    v = vigil()
    v.see_readiness(Readiness(2, 2, True), 101)  # would switch ...
    v.see_readiness(Readiness(1, 2, True), 101.5)  # ... had it not dropped first
    v.see_readiness(Readiness(2, 2, True), 105)
    v.see_readiness(Readiness(1, 2, True), 110)
    v.see_readiness(Readiness(2, 2, True), 111)

    assert v.drops == 2
    assert not v.may_switch(120)
    assert v.may_switch(121)


def test_stable_for_always_holds() -> None:
    v = vigil(WaitPolicy(stable_for=3, stable_after_unready=1))
    v.see_readiness(Readiness(2, 2, True), 101)

    assert not v.may_switch(103.9)
    assert v.may_switch(104)


def test_not_settled_is_not_ready() -> None:
    v = vigil()
    v.see_readiness(Readiness(2, 2, False), 101)

    assert v.stable_at() is None and not v.may_switch(1000)


def test_image_pull_failures_are_hopeless_only_after_the_grace() -> None:
    v = vigil()
    v.see_pods([pulling("a"), pulling("b")], 110)
    v.see_pods([pulling("a"), pulling("b")], 139)
    assert v.hopeless(139) == []

    v.see_pods([pulling("a"), pulling("b")], 140)
    assert [t.pod for t in v.hopeless(140)] == ["a", "b"]


def test_a_pod_that_stops_failing_to_pull_starts_its_grace_again() -> None:
    v = vigil()
    v.see_pods([pulling("a")], 110)
    v.see_pods([crashing("a", 0)], 120)
    v.see_pods([pulling("a")], 130)

    assert v.hopeless(150) == []
    assert v.hopeless(160) != []


def test_crash_loops_are_hopeless_from_the_restart_limit() -> None:
    v = vigil()
    v.see_pods([crashing("a", 3), crashing("b", 2)], 110)
    assert v.hopeless(110) == []

    v.see_pods([crashing("a", 4), crashing("b", 3)], 111)
    assert [t.pod for t in v.hopeless(111)] == ["a", "b"]


def test_one_healthy_pod_keeps_the_wait_going() -> None:
    v = vigil(WaitPolicy(image_pull_grace=0))
    v.see_pods([pulling("a"), ready("b")], 110)

    assert v.hopeless(200) == []


def test_no_pods_is_not_hopeless() -> None:
    v = vigil()
    v.see_pods([], 110)

    assert v.hopeless(200) == []


def test_terminating_pods_are_left_out() -> None:
    old = ready("old")
    old["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    v = vigil(WaitPolicy(image_pull_grace=0))
    v.see_pods([pulling("a"), old], 110)

    assert [t.pod for t in v.hopeless(110)] == ["a"]


def test_progress_fields_name_the_worst_pod() -> None:
    v = vigil()
    v.see_readiness(Readiness(0, 2, False), 101)
    v.see_pods([crashing("a", 1), pulling("b")], 105.4)

    assert v.progress(105.4) == {
        "progress": "0/2 ready",
        "ready": 0,
        "desired": 2,
        "elapsed": 5,
        "remaining": 195,
        "pod": "b",
        "reason": "ImagePullBackOff",
        "message": 'Back-off pulling image "x"',
    }


def test_summary_shows_the_worst_few() -> None:
    v = vigil()
    v.see_pods([crashing(name, 5) for name in "abcde"], 110)

    text = summary(v.troubles, {})

    assert text.count("CrashLoopBackOff (restarts 5)") == 3
    assert text.endswith("; and 2 more")


def test_old_pods_leaving_during_a_rollout_are_not_a_drop() -> None:
    v = vigil()
    v.see_readiness(Readiness(3, 2, False), 101)  # one old pod still there
    v.see_readiness(Readiness(2, 2, True), 102)  # it went: settled and complete

    assert v.drops == 0
    assert v.may_switch(102)


def test_lines_to_log_on_changes_each_once() -> None:
    v = vigil()
    assert [event for _, event, _ in v.see_readiness(Readiness(0, 2, True), 101)] == [
        "waiting for pods"
    ]
    assert v.see_readiness(Readiness(0, 2, True), 101.5) == []  # nothing new
    v.see_readiness(Readiness(2, 2, True), 102)
    v.see_readiness(Readiness(1, 2, True), 103)
    notes = v.see_readiness(Readiness(2, 2, True), 104)

    assert [(level, event) for level, event, _ in notes] == [
        ("info", "waiting for pods"),
        ("info", "all Ready; checking they stay Ready"),
    ]
    assert notes[1][2] == {"seconds": 10}
    v.see_readiness(Readiness(1, 2, True), 105)  # a second drop: no second warning
    notes = v.see_readiness(Readiness(2, 2, True), 106)
    assert [event for _, event, _ in notes] == ["waiting for pods"]


def test_a_slice_ends_at_the_next_line_the_hold_or_the_deadline() -> None:
    v = vigil(WaitPolicy(progress_every=5, stable_for=2))
    assert v.slice_end(101) == 106
    v.see_readiness(Readiness(2, 2, True), 101)
    assert v.slice_end(101) == 103
    assert vigil().slice_end(299) == 300
