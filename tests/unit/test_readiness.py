"""Readiness read from workload status, progress lines, and why a pod is not Ready."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_hooks.readiness import Readiness, pod_reason, workload_readiness, worth_showing


def workload(kind: str = "Deployment", **status: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, **status},
    }


def rolled_out(**changes: Any) -> dict[str, Any]:
    return workload(**{"readyReplicas": 3, "availableReplicas": 3, **changes})


def test_a_deployment_is_complete_when_every_replica_is_updated_and_available() -> None:
    assert workload_readiness(rolled_out()) == Readiness(3, 3, True)
    assert workload_readiness(rolled_out()).complete


@pytest.mark.parametrize(
    "changes",
    [
        {"availableReplicas": 2},  # one new pod not yet Ready for minReadySeconds
        {"observedGeneration": 1},  # the controller has not seen the latest spec
        {"updatedReplicas": 2},  # one replica still runs the old template
        {"replicas": 4},  # an old replica is still there, pending termination
        {"readyReplicas": 2, "availableReplicas": 2},
    ],
)
def test_a_deployment_is_not_complete_until_kubectl_would_call_it_rolled_out(
    changes: dict[str, Any],
) -> None:
    assert not workload_readiness(rolled_out(**changes)).complete


def test_ready_pods_are_not_enough_while_they_are_not_yet_available() -> None:
    ready_not_available = workload(readyReplicas=3, availableReplicas=0)

    state = workload_readiness(ready_not_available)

    assert (state.ready, state.complete) == (0, False)


def test_a_progress_deadline_exceeded_is_a_failure_with_the_controllers_message() -> None:
    stuck = rolled_out(availableReplicas=1)
    stuck["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "web-5d9f" has timed out progressing.',
        }
    ]

    state = workload_readiness(stuck)

    assert state.failed == 'ReplicaSet "web-5d9f" has timed out progressing.'
    assert not state.complete


def test_a_deadline_about_an_older_spec_is_not_a_failure_yet() -> None:
    stuck = rolled_out(observedGeneration=1)
    stuck["status"]["conditions"] = [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    ]

    assert workload_readiness(stuck).failed == ""


def test_a_replication_controller_needs_no_updated_replicas() -> None:
    rc = workload("ReplicationController", readyReplicas=3, availableReplicas=3)
    del rc["status"]["updatedReplicas"]

    assert workload_readiness(rc).complete


def test_a_replication_controller_with_pods_not_yet_available_is_not_complete() -> None:
    rc = workload("ReplicationController", readyReplicas=3, availableReplicas=2)

    assert not workload_readiness(rc).complete


def test_a_workload_being_deleted_is_not_complete() -> None:
    gone = rolled_out()
    gone["metadata"]["deletionTimestamp"] = "2026-11-26T12:00:00Z"

    assert not workload_readiness(gone).complete


def test_zero_replicas_is_never_complete() -> None:
    assert not Readiness(0, 0, True).complete


def test_progress_is_shown_for_each_replica_of_a_small_workload() -> None:
    assert worth_showing(Readiness(0, 4, False), None)
    assert worth_showing(Readiness(1, 4, False), Readiness(0, 4, False))
    assert not worth_showing(Readiness(1, 4, False), Readiness(1, 4, False))


def test_progress_is_shown_every_tenth_of_a_large_workload_and_at_the_end() -> None:
    shown = Readiness(10, 100, False)

    assert not worth_showing(Readiness(19, 100, False), shown)
    assert worth_showing(Readiness(20, 100, False), shown)
    assert worth_showing(Readiness(100, 100, True), Readiness(95, 100, False))


def test_pod_reason_names_the_waiting_reason() -> None:
    pod = {
        "metadata": {"name": "web-1"},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}
            ],
        },
    }

    assert pod_reason(pod) == "pod web-1: ImagePullBackOff: no such image"


def test_pod_reason_is_empty_for_a_ready_pod() -> None:
    pod = {
        "metadata": {"name": "web-1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }

    assert pod_reason(pod) == ""
