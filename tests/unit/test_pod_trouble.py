"""What keeps a pod from being Ready, read from its status as a kubelet reports it."""

from __future__ import annotations

from typing import Any

from bluegreen_hooks.pod_trouble import pod_trouble


def pod(name: str = "web-1", *, phase: str = "Running", ready: bool = False, **status: Any) -> Any:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": {"name": name, "uid": f"uid-{name}"},
        "status": {"phase": phase, "conditions": conditions, **status},
    }


def container(state: dict[str, Any], restarts: int = 0, last: dict[str, Any] | None = None) -> Any:
    return {"name": "app", "state": state, "restartCount": restarts, "lastState": last or {}}


def test_a_ready_pod_has_no_trouble() -> None:
    assert pod_trouble(pod(ready=True)) is None


def test_image_pull_back_off_names_the_image() -> None:
    waiting = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "web:1"'}
    trouble = pod_trouble(pod(phase="Pending", containerStatuses=[container({"waiting": waiting})]))

    assert trouble is not None and trouble.image_pull
    assert trouble.describe() == 'pod web-1: ImagePullBackOff: Back-off pulling image "web:1"'


def test_crash_loop_names_restarts_exit_code_and_back_off() -> None:
    waiting = {
        "reason": "CrashLoopBackOff",
        "message": "back-off 40s restarting failed container=app pod=web-1_default(uid)",
    }
    last = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    trouble = pod_trouble(pod(containerStatuses=[container({"waiting": waiting}, 5, last)]))

    assert trouble is not None and not trouble.image_pull
    assert trouble.restarts == 5
    assert trouble.describe() == (
        "pod web-1: CrashLoopBackOff (restarts 5): last exit code 137 (OOMKilled); back-off 40s"
    )


def test_a_container_running_again_after_crashes_counts_its_restarts() -> None:
    last = {"terminated": {"exitCode": 1, "reason": "Error"}}
    running = container({"running": {"startedAt": "2026-01-01T00:00:00Z"}}, 2, last)

    trouble = pod_trouble(pod(containerStatuses=[running]))

    assert trouble is not None
    assert trouble.describe() == (
        "pod web-1: CrashLoopBackOff (restarts 2): last exit code 1 (Error)"
    )


def test_a_container_running_again_after_a_clean_exit_is_not_crash_looping() -> None:
    last = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    running = container({"running": {"startedAt": "2026-01-01T00:00:00Z"}}, 1, last)

    trouble = pod_trouble(pod(containerStatuses=[running]))

    assert trouble is not None
    assert trouble.describe() == "pod web-1: NotReady (restarts 1): last exit code 0 (Completed)"


def test_a_running_pod_whose_probe_fails_takes_its_reason_from_elsewhere() -> None:
    running = container({"running": {"startedAt": "2026-01-01T00:00:00Z"}})

    trouble = pod_trouble(pod(containerStatuses=[running]))

    assert trouble is not None and trouble.reason == "NotReady"
    assert trouble.describe() == "pod web-1: NotReady"
    assert trouble.describe("Readiness probe failed: 503") == (
        "pod web-1: NotReady: Readiness probe failed: 503"
    )


def test_an_unschedulable_pod_says_why() -> None:
    scheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
    }
    pending = pod(phase="Pending")
    pending["status"]["conditions"] = [scheduled]

    trouble = pod_trouble(pending)

    assert trouble is not None
    assert trouble.describe() == (
        "pod web-1: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."
    )


def test_the_worst_container_speaks_for_the_pod() -> None:
    creating = container({"waiting": {"reason": "ContainerCreating"}})
    pulling = container({"waiting": {"reason": "ErrImagePull", "message": "not found"}})

    trouble = pod_trouble(pod(phase="Pending", containerStatuses=[creating, pulling]))

    assert trouble is not None and trouble.reason == "ErrImagePull"


def test_a_pending_pod_without_statuses_is_pending() -> None:
    trouble = pod_trouble({"metadata": {"name": "web-1"}, "status": {"phase": "Pending"}})

    assert trouble is not None and trouble.describe() == "pod web-1: Pending"
