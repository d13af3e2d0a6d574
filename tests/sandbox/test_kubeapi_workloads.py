"""The controller: workload pods, readiness, broken images, replacement, rollout, cascades."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import (
    Objects,
    deployment_body,
    is_ready,
    new_watch,
    pod_body,
    rc_body,
    wait_for,
)


def ready_count(n: int) -> Any:
    def condition(pods: Objects) -> bool:
        return len(pods) == n and all(is_ready(p) for p in pods.values())

    return condition


def test_rc_pods_become_ready(core: Any) -> None:
    rc = core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 3))
    pods = wait_for(
        core.list_namespaced_pod, "default", label_selector="app=web", condition=ready_count(3)
    )
    for name, pod in pods.items():
        assert name.startswith("web-") and len(name) == len("web-") + 5
        (owner,) = pod.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == (
            "ReplicationController",
            "web",
            rc.metadata.uid,
            True,
        )
        assert pod.status.phase == "Running"
        assert pod.status.pod_ip.startswith("127.0.0.") and pod.status.host_ip == "127.0.0.1"
        assert pod.spec.node_name == "sandbox-node"
        assert {c.type for c in pod.status.conditions} >= {
            "Ready",
            "ContainersReady",
            "PodScheduled",
            "Initialized",
        }
        (container,) = pod.status.container_statuses
        assert container.ready and container.started and container.state.running.started_at
    assert len({p.status.pod_ip for p in pods.values()}) == 3

    rcs = wait_for(
        core.list_namespaced_replication_controller,
        "default",
        condition=lambda rcs: rcs["web"].status.ready_replicas == 3,
    )
    status = rcs["web"].status
    assert (status.replicas, status.available_replicas, status.fully_labeled_replicas) == (3, 3, 3)
    assert status.observed_generation == 1


def test_deployment_ready_and_ready_events(emulator: KubeEmulator, apps: Any, core: Any) -> None:
    before = time.time()
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))
    deployments = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: d["web"].status.ready_replicas == 2,
    )
    status = deployments["web"].status
    assert (status.replicas, status.updated_replicas, status.available_replicas) == (2, 2, 2)
    assert status.unavailable_replicas is None
    conditions = {c.type: c for c in status.conditions}
    assert conditions["Available"].status == "True"
    assert conditions["Progressing"].reason == "NewReplicaSetAvailable"

    pods = core.list_namespaced_pod("default").items
    events = emulator.ready_events
    assert sorted(e.name for e in events) == sorted(p.metadata.name for p in pods)
    for event in events:
        assert event.namespace == "default" and event.labels["app"] == "web"
        assert before + emulator.ready_delay - 0.01 <= event.time <= time.time()
    emulator.clear_ready_events()
    assert emulator.ready_events == []


def test_unowned_pod_becomes_ready_after_delay(emulator: KubeEmulator, core: Any) -> None:
    emulator.ready_delay = 60
    core.create_namespaced_pod("default", pod_body("solo", {"app": "solo"}))
    assert core.read_namespaced_pod("solo", "default").status.phase == "Pending"
    emulator.ready_delay = 0.01  # takes effect for already pending pods
    wait_for(core.list_namespaced_pod, "default", condition=ready_count(1))
    assert [e.name for e in emulator.ready_events] == ["solo"]


def test_broken_image_never_ready(emulator: KubeEmulator, apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment(
        "default", deployment_body("bad", {"app": "bad"}, 1, image="registry/app:broken-v2")
    )
    pods = wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: any(p.status.phase == "Running" for p in pods.values()),
    )
    (pod,) = pods.values()
    assert not is_ready(pod)
    assert pod.status.container_statuses[0].ready is False
    deployments = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: d["bad"].status.unavailable_replicas == 1,
    )
    status = deployments["bad"].status
    assert not status.ready_replicas  # zero: omitted, like the real controller's status
    assert {c.type: c.status for c in status.conditions}["Available"] == "False"
    assert emulator.ready_events == []


def test_deleted_pod_is_replaced(core: Any) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 2))
    pods = wait_for(core.list_namespaced_pod, "default", condition=ready_count(2))
    victim = sorted(pods)[0]
    core.delete_namespaced_pod(victim, "default")
    after = wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: len(pods) == 2 and victim not in pods,
    )
    assert victim not in after


def test_scale_up_and_down(core: Any) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 1))
    wait_for(core.list_namespaced_pod, "default", condition=ready_count(1))
    core.patch_namespaced_replication_controller("web", "default", {"spec": {"replicas": 3}})
    wait_for(core.list_namespaced_pod, "default", condition=ready_count(3))
    core.patch_namespaced_replication_controller("web", "default", {"spec": {"replicas": 0}})
    wait_for(core.list_namespaced_pod, "default", condition=lambda pods: not pods)
    rcs = wait_for(
        core.list_namespaced_replication_controller,
        "default",
        condition=lambda rcs: rcs["web"].status.observed_generation == 3,
    )
    assert rcs["web"].status.replicas == 0


def test_strategic_merge_patch_of_image_replaces_pods(apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))
    old = wait_for(core.list_namespaced_pod, "default", condition=ready_count(2))
    patched = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}},
    )
    assert patched.metadata.generation == 2
    (container,) = patched.spec.template.spec.containers
    assert container.image == "nginx:2" and container.ports[0].container_port == 80  # merged

    def rolled(pods: Objects) -> bool:
        return (
            ready_count(2)(pods)
            and not set(pods) & set(old)
            and all(p.spec.containers[0].image == "nginx:2" for p in pods.values())
        )

    wait_for(core.list_namespaced_pod, "default", condition=rolled)
    deployments = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: (
            d["web"].status.observed_generation == 2 and d["web"].status.ready_replicas == 2
        ),
    )
    assert deployments["web"].status.updated_replicas == 2


def test_cascading_delete_of_rc_and_deployment(apps: Any, core: Any) -> None:
    core.create_namespaced_replication_controller("default", rc_body("rc", {"app": "rc"}, 2))
    apps.create_namespaced_deployment("default", deployment_body("dep", {"app": "dep"}, 2))
    wait_for(core.list_namespaced_pod, "default", condition=lambda pods: len(pods) == 4)

    core.delete_namespaced_replication_controller("rc", "default")  # default: Background
    wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: (
            sorted(p.metadata.labels["app"] for p in pods.values()) == ["dep", "dep"]
        ),
    )
    apps.delete_namespaced_deployment(
        "dep", "default", body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    wait_for(apps.list_namespaced_deployment, "default", condition=lambda found: not found)
    assert core.list_namespaced_pod("default").items == []  # dependents went first


def test_orphan_delete_keeps_pods(core: Any) -> None:
    core.create_namespaced_replication_controller("default", rc_body("rc", {"app": "rc"}, 2))
    before = wait_for(core.list_namespaced_pod, "default", condition=ready_count(2))
    core.delete_namespaced_replication_controller("rc", "default", propagation_policy="Orphan")
    wait_for(core.list_namespaced_replication_controller, "default", condition=lambda rcs: not rcs)
    pods = core.list_namespaced_pod("default").items
    assert sorted(p.metadata.name for p in pods) == sorted(before)
    assert all(p.metadata.owner_references is None for p in pods)
    assert core.list_namespaced_replication_controller("default").items == []


def deleted_versions(list_func: Any, resource_version: str, count: int) -> dict[str, int]:
    """Name -> resourceVersion of the first `count` DELETED events after `resource_version`."""
    found: dict[str, int] = {}
    stream = new_watch().stream(
        list_func, "default", resource_version=resource_version, timeout_seconds=5
    )
    try:
        for event in stream:
            if event["type"] == "DELETED":
                found[event["object"].metadata.name] = int(
                    event["object"].metadata.resource_version
                )
                if len(found) == count:
                    break
    finally:
        stream.close()
    return found


def test_foreground_delete_follows_owner_references_as_they_change(apps: Any, core: Any) -> None:
    dep = apps.create_namespaced_deployment("default", deployment_body("dep", {"app": "dep"}, 3))
    wait_for(core.list_namespaced_pod, "default", condition=ready_count(3))
    reference = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "dep"}
    reference["uid"] = dep.metadata.uid
    freed = pod_body("freed", {"app": "other"})  # owned at creation, released by a patch
    freed["metadata"]["ownerReferences"] = [reference]
    core.create_namespaced_pod("default", freed)
    core.create_namespaced_pod("default", pod_body("adopted", {"app": "other"}))
    core.patch_namespaced_pod("freed", "default", {"metadata": {"ownerReferences": None}})
    core.patch_namespaced_pod("adopted", "default", {"metadata": {"ownerReferences": [reference]}})
    # Only pods the Deployment controls count as its replicas.
    deployments = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda found: found["dep"].status.ready_replicas == 3,
    )
    assert deployments["dep"].status.replicas == 3
    since = core.list_namespaced_pod("default").metadata.resource_version

    apps.delete_namespaced_deployment("dep", "default", propagation_policy="Foreground")

    wait_for(apps.list_namespaced_deployment, "default", condition=lambda found: not found)
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["freed"]
    pods = deleted_versions(core.list_namespaced_pod, since, 4)
    assert "adopted" in pods and "freed" not in pods
    (owner,) = deleted_versions(apps.list_namespaced_deployment, since, 1).values()
    assert max(pods.values()) < owner  # dependents first, then the owner


def test_pod_ips_are_lowest_free_first(emulator: KubeEmulator, core: Any) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 3))
    pods = wait_for(core.list_namespaced_pod, "default", condition=ready_count(3))
    by_ip = {pod.status.pod_ip: name for name, pod in pods.items()}
    assert sorted(by_ip) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    core.delete_namespaced_pod(by_ip["127.0.0.3"], "default")
    after = wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: ready_count(3)(pods) and by_ip["127.0.0.3"] not in pods,
    )
    assert sorted(pod.status.pod_ip for pod in after.values()) == sorted(by_ip)
