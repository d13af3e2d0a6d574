"""Deletion as a cluster does it: grace periods, finalizers, propagation policies, namespaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import (
    deployment_body,
    is_ready,
    new_watch,
    pod_body,
    rc_body,
    status_body,
    wait_for,
)

Event = tuple[str, str, str, int]  # type, resource kind, name, resourceVersion


def record(watched: dict[Callable[..., Any], set[str]], since: str) -> list[Event]:
    """Events in "default" after `since` of each collection until every named object in it
    is DELETED, merged in resourceVersion order."""
    events: list[Event] = []
    for list_func, names in watched.items():
        stream = new_watch().stream(
            list_func, "default", resource_version=since, timeout_seconds=10
        )
        mine: list[Event] = []
        try:
            for event in stream:
                obj = event["object"]
                mine.append(
                    (event["type"], obj.kind, obj.metadata.name, int(obj.metadata.resource_version))
                )
                if names <= {n for t, _, n, _ in mine if t == "DELETED"}:
                    break
        finally:
            stream.close()
        assert names <= {n for t, _, n, _ in mine if t == "DELETED"}, mine
        events += mine
    return sorted(events, key=lambda e: e[3])


def first(events: list[Event], kind: str, name: str) -> int:
    return next(rv for t, _, n, rv in events if (t, n) == (kind, name))


def ready_pods(count: int) -> Callable[[dict[str, Any]], bool]:
    return lambda pods: len(pods) == count and all(is_ready(p) for p in pods.values())


# ---------------------------------------------------------------- pods


def test_a_deleted_pod_terminates_for_its_grace_period_then_goes(
    emulator: KubeEmulator, core: Any
) -> None:
    emulator.grace_scale = 0.01  # 30 s -> 0.3 s
    core.create_namespaced_pod("default", pod_body("web", {"app": "web"}))
    wait_for(core.list_namespaced_pod, "default", condition=ready_pods(1))
    since = core.list_namespaced_pod("default").metadata.resource_version

    answer = core.delete_namespaced_pod("web", "default")

    assert answer.metadata.deletion_timestamp is not None
    assert answer.metadata.deletion_grace_period_seconds == 30  # the pod's default
    terminating = core.read_namespaced_pod("web", "default")
    assert terminating.metadata.deletion_timestamp is not None
    assert not is_ready(terminating)  # a pod being deleted is not Ready
    events = record({core.list_namespaced_pod: {"web"}}, since)
    assert [t for t, _, _, _ in events] == ["MODIFIED", "DELETED"]


def test_the_requests_grace_period_overrides_the_pods(emulator: KubeEmulator, core: Any) -> None:
    emulator.grace_scale = 1.0  # long enough to read the pod while it terminates
    body = pod_body("slow", {"app": "web"})
    body["spec"]["terminationGracePeriodSeconds"] = 120
    core.create_namespaced_pod("default", body)
    core.create_namespaced_pod("default", pod_body("quick", {"app": "web"}))

    slow = core.delete_namespaced_pod("slow", "default")
    quick = core.delete_namespaced_pod("quick", "default", grace_period_seconds=7)

    assert slow.metadata.deletion_grace_period_seconds == 120
    assert quick.metadata.deletion_grace_period_seconds == 7
    core.delete_namespaced_pod("slow", "default", grace_period_seconds=0)  # shortens it: gone
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_pod("slow", "default")
    assert gone.value.status == 404
    assert core.read_namespaced_pod("quick", "default").metadata.deletion_timestamp is not None


def test_grace_period_zero_removes_a_pod_at_once(emulator: KubeEmulator, core: Any) -> None:
    emulator.grace_scale = 1.0
    core.create_namespaced_pod("default", pod_body("web"))

    answer = core.delete_namespaced_pod("web", "default", grace_period_seconds=0)

    assert answer.metadata.name == "web"
    assert core.list_namespaced_pod("default").items == []


def test_a_terminating_pod_is_replaced_at_once_and_no_longer_counted(
    emulator: KubeEmulator, core: Any
) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 2))
    before = wait_for(core.list_namespaced_pod, "default", condition=ready_pods(2))
    emulator.grace_scale = 1.0  # the victim stays terminating for the rest of the test
    victim = sorted(before)[0]

    core.delete_namespaced_pod(victim, "default")

    def replaced(pods: dict[str, Any]) -> bool:
        live = [p for p in pods.values() if p.metadata.deletion_timestamp is None]
        return victim in pods and len(live) == 2 and all(is_ready(p) for p in live)

    wait_for(core.list_namespaced_pod, "default", condition=replaced)
    rcs = wait_for(
        core.list_namespaced_replication_controller,
        "default",
        condition=lambda rcs: rcs["web"].status.ready_replicas == 2,
    )
    assert rcs["web"].status.replicas == 2  # the terminating pod is not a replica


# ---------------------------------------------------------------- finalizers


def held_service(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "finalizers": ["example.com/hold"]},
        "spec": {"ports": [{"port": 80}]},
    }


def test_finalizers_hold_an_object_until_an_update_removes_them(core: Any) -> None:
    core.create_namespaced_service("default", held_service("web"))
    since = core.list_namespaced_service("default").metadata.resource_version

    answer = core.delete_namespaced_service("web", "default")

    assert answer.metadata.deletion_timestamp is not None
    held = core.read_namespaced_service("web", "default")
    assert held.metadata.finalizers == ["example.com/hold"]
    assert held.metadata.deletion_grace_period_seconds == 0
    core.patch_namespaced_service("web", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_service("web", "default")
    assert gone.value.status == 404
    events = record({core.list_namespaced_service: {"web"}}, since)
    assert [t for t, _, _, _ in events] == ["MODIFIED", "MODIFIED", "DELETED"]


def test_an_object_being_deleted_takes_no_new_finalizers(core: Any) -> None:
    core.create_namespaced_service("default", held_service("web"))
    core.delete_namespaced_service("web", "default")

    with pytest.raises(client.ApiException) as refused:
        core.patch_namespaced_service(
            "web", "default", {"metadata": {"finalizers": ["example.com/hold", "other/x"]}}
        )

    assert refused.value.status == 422
    assert "no new finalizers" in status_body(refused.value)["message"]


def test_a_name_still_being_deleted_cannot_be_created_again(core: Any) -> None:
    core.create_namespaced_service("default", held_service("web"))
    core.delete_namespaced_service("web", "default")

    with pytest.raises(client.ApiException) as taken:
        core.create_namespaced_service("default", held_service("web"))

    body = status_body(taken.value)
    assert (taken.value.status, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == 'object is being deleted: services "web" already exists'


def test_a_finalizer_holds_a_pod_past_its_grace_period(core: Any) -> None:
    body = pod_body("web")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    body["spec"]["terminationGracePeriodSeconds"] = 1  # 1 ms in the sandbox
    core.create_namespaced_pod("default", body)
    core.delete_namespaced_pod("web", "default")
    # The marker turns Ready after the ready delay (50 ms), long after web's grace period.
    core.create_namespaced_pod("default", pod_body("marker"))
    wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: "marker" in pods and is_ready(pods["marker"]),
    )
    assert core.read_namespaced_pod("web", "default").metadata.deletion_timestamp is not None
    since = core.list_namespaced_pod("default").metadata.resource_version

    core.patch_namespaced_pod("web", "default", {"metadata": {"finalizers": None}})

    events = record({core.list_namespaced_pod: {"web"}}, since)
    assert [t for t, _, n, _ in events if n == "web"] == ["MODIFIED", "DELETED"]


# ---------------------------------------------------------------- propagation


def test_foreground_deletes_dependents_first_then_the_owner(apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))
    wait_for(core.list_namespaced_pod, "default", condition=ready_pods(2))
    (rs,) = apps.list_namespaced_replica_set("default").items
    pods = {p.metadata.name for p in core.list_namespaced_pod("default").items}
    since = core.list_namespaced_pod("default").metadata.resource_version

    answer = apps.delete_namespaced_deployment("web", "default", propagation_policy="Foreground")

    assert answer["metadata"]["deletionTimestamp"]
    assert answer["metadata"]["finalizers"] == ["foregroundDeletion"]
    events = record(
        {
            apps.list_namespaced_deployment: {"web"},
            apps.list_namespaced_replica_set: {rs.metadata.name},
            core.list_namespaced_pod: pods,
        },
        since,
    )
    gone = {name: rv for t, _, name, rv in events if t == "DELETED"}
    assert max(gone[p] for p in pods) < gone[rs.metadata.name] < gone["web"]
    replica_set_marks = [e for e in events if e[1] == "ReplicaSet" and e[0] == "MODIFIED"]
    assert replica_set_marks, "the ReplicaSet is deleted in the foreground too"


def test_background_removes_the_owner_at_once_and_dependents_after(core: Any) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 2))
    pods = set(wait_for(core.list_namespaced_pod, "default", condition=ready_pods(2)))
    since = core.list_namespaced_pod("default").metadata.resource_version

    core.delete_namespaced_replication_controller("web", "default")

    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_replication_controller("web", "default")
    assert gone.value.status == 404
    events = record(
        {core.list_namespaced_replication_controller: {"web"}, core.list_namespaced_pod: pods},
        since,
    )
    owner = first(events, "DELETED", "web")
    assert all(first(events, "DELETED", pod) > owner for pod in pods)


def test_orphan_keeps_dependents_and_clears_their_owner_references(apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))
    before = wait_for(core.list_namespaced_pod, "default", condition=ready_pods(2))

    answer = apps.delete_namespaced_deployment("web", "default", propagation_policy="Orphan")

    assert answer["metadata"]["finalizers"] == ["orphan"]
    wait_for(apps.list_namespaced_deployment, "default", condition=lambda found: not found)
    (rs,) = apps.list_namespaced_replica_set("default").items
    assert rs.metadata.owner_references is None
    assert rs.metadata.deletion_timestamp is None
    pods = core.list_namespaced_pod("default").items
    assert sorted(p.metadata.name for p in pods) == sorted(before)
    assert all(p.metadata.owner_references[0].uid == rs.metadata.uid for p in pods)


# ---------------------------------------------------------------- namespaces


def test_a_namespace_terminates_its_contents_then_goes(core: Any) -> None:
    core.create_namespace({"metadata": {"name": "blue"}})
    core.create_namespaced_replication_controller("blue", rc_body("web", {"app": "web"}, 2))
    core.create_namespaced_service(
        "blue", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    wait_for(core.list_namespaced_pod, "blue", condition=ready_pods(2))
    since = core.list_namespace().metadata.resource_version

    answer = core.delete_namespace("blue")

    assert answer["status"]["phase"] == "Terminating"
    assert answer["metadata"]["deletionTimestamp"]
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod("blue", pod_body("late"))
    body = status_body(refused.value)
    assert (refused.value.status, body["reason"]) == (403, "Forbidden")
    assert "being terminated" in body["message"]
    wait_for(core.list_namespace, condition=lambda found: "blue" not in found)
    assert core.list_pod_for_all_namespaces().items == []
    assert core.list_service_for_all_namespaces(label_selector="app=web").items == []
    stream = new_watch().stream(core.list_namespace, resource_version=since, timeout_seconds=5)
    kinds = []
    for event in stream:
        kinds.append(event["type"])
        if event["type"] == "DELETED":
            stream.close()
    assert kinds[0] == "MODIFIED" and kinds[-1] == "DELETED"


def test_an_owner_deleted_in_the_foreground_waits_for_a_held_dependent(core: Any) -> None:
    rc = core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 1))
    (pod,) = wait_for(core.list_namespaced_pod, "default", condition=ready_pods(1)).values()
    name = pod.metadata.name
    core.patch_namespaced_pod(name, "default", {"metadata": {"finalizers": ["example.com/hold"]}})

    core.delete_namespaced_replication_controller("web", "default", propagation_policy="Foreground")

    held = wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: pods[name].metadata.deletion_timestamp is not None,
    )
    assert held[name].metadata.finalizers == ["example.com/hold"]
    owner = core.read_namespaced_replication_controller("web", "default")
    assert owner.metadata.uid == rc.metadata.uid and owner.metadata.deletion_timestamp
    assert owner.metadata.finalizers == ["foregroundDeletion"]
    assert list(wait_for(core.list_namespaced_pod, "default", condition=lambda p: True)) == [name]

    core.patch_namespaced_pod(name, "default", {"metadata": {"finalizers": None}})

    wait_for(core.list_namespaced_replication_controller, "default", condition=lambda rcs: not rcs)
    assert core.list_namespaced_pod("default").items == []


def test_deleting_an_object_being_deleted_changes_nothing(core: Any) -> None:
    core.create_namespaced_service("default", held_service("web"))
    first_answer = core.delete_namespaced_service("web", "default")

    again = core.delete_namespaced_service("web", "default", propagation_policy="Foreground")

    assert again.metadata.resource_version == first_answer.metadata.resource_version
    assert again.metadata.finalizers == ["example.com/hold"]


def test_a_malformed_grace_period_is_a_bad_request(
    emulator: KubeEmulator, api_client: Any, core: Any
) -> None:
    core.create_namespaced_pod("default", pod_body("web"))
    response = api_client.rest_client.request(
        "DELETE", emulator.url + "/api/v1/namespaces/default/pods/web?gracePeriodSeconds=soon"
    )

    assert response.status == 400
    assert core.read_namespaced_pod("web", "default").metadata.deletion_timestamp is None
