"""Deployments as the real controller runs them: ReplicaSets, rolling updates, Recreate,
minReadySeconds, the Progressing condition and its deadline, revisions and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import Objects, deployment_body, is_ready, new_watch, wait_for

LABELS = {"app": "web"}


def ready_pods(count: int) -> Callable[[Objects], bool]:
    return lambda pods: len(pods) == count and all(is_ready(p) for p in pods.values())


def set_image(apps: Any, image: str, name: str = "web") -> Any:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    return apps.patch_namespaced_deployment(name, "default", patch)


def replica_sets(apps: Any) -> dict[str, Any]:
    """ReplicaSets by revision annotation."""
    return {
        rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs
        for rs in apps.list_namespaced_replica_set("default").items
    }


def condition(deployment: Any, kind: str) -> Any:
    return next((c for c in deployment.status.conditions or [] if c.type == kind), None)


def rolled_out(name: str = "web", replicas: int = 2) -> Callable[[Objects], bool]:
    """`kubectl rollout status`'s test."""

    def check(found: Objects) -> bool:
        d = found.get(name)
        if d is None or (d.status.observed_generation or 0) < d.metadata.generation:
            return False
        s = d.status
        return (
            (s.updated_replicas or 0)
            == replicas
            == (s.replicas or 0)
            == (s.available_replicas or 0)
        )

    return check


def test_a_deployment_runs_its_pods_through_a_replicaset(apps: Any, core: Any) -> None:
    deployment = apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))

    found = wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())

    (rs,) = apps.list_namespaced_replica_set("default").items
    pod_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{pod_hash}"
    (owner,) = rs.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Deployment",
        "web",
        deployment.metadata.uid,
        True,
    )
    assert rs.spec.selector.match_labels == {**LABELS, "pod-template-hash": pod_hash}
    assert rs.spec.template.metadata.labels == {**LABELS, "pod-template-hash": pod_hash}
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.status.replicas == rs.status.ready_replicas == rs.status.available_replicas == 2
    for pod in core.list_namespaced_pod("default").items:
        assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
        assert pod.metadata.labels["pod-template-hash"] == pod_hash
        (pod_owner,) = pod.metadata.owner_references
        assert (pod_owner.kind, pod_owner.uid) == ("ReplicaSet", rs.metadata.uid)
    web = found["web"]
    assert web.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert web.status.observed_generation == 1 and web.status.ready_replicas == 2
    assert condition(web, "Available").status == "True"
    progressing = condition(web, "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "NewReplicaSetAvailable")
    assert progressing.message == f'ReplicaSet "{rs.metadata.name}" has successfully progressed.'


def test_replicasets_are_served_listed_and_watched(api_client: Any, apps: Any) -> None:
    resources = client.AppsV1Api(api_client).get_api_resources().resources
    entry = next(r for r in resources if r.name == "replicasets")
    assert entry.kind == "ReplicaSet" and entry.namespaced and entry.short_names == ["rs"]
    assert {"get", "list", "watch", "delete"} <= set(entry.verbs)
    since = apps.list_namespaced_replica_set("default").metadata.resource_version
    apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 1))
    stream = new_watch().stream(
        apps.list_namespaced_replica_set, "default", resource_version=since, timeout_seconds=5
    )
    for event in stream:
        assert event["type"] == "ADDED" and event["object"].kind == "ReplicaSet"
        name = event["object"].metadata.name
        stream.close()
    assert apps.read_namespaced_replica_set(name, "default").metadata.name == name


def test_a_deleted_replicaset_is_made_again_by_its_deployment(apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    (rs,) = apps.list_namespaced_replica_set("default").items

    apps.delete_namespaced_replica_set(rs.metadata.name, "default")

    again = wait_for(
        apps.list_namespaced_replica_set,
        "default",
        condition=lambda found: (
            rs.metadata.name in found and found[rs.metadata.name].metadata.uid != rs.metadata.uid
        ),
    )
    assert again[rs.metadata.name].spec.replicas == 2
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())


def test_a_rolling_update_never_exceeds_surge_nor_drops_below_availability(
    apps: Any, core: Any
) -> None:
    body = deployment_body("web", LABELS, 4)
    body["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    apps.create_namespaced_deployment("default", body)
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=4))
    listing = core.list_namespaced_pod("default")
    pods = {p.metadata.name: p for p in listing.items}

    set_image(apps, "nginx:2")

    stream = new_watch().stream(
        core.list_namespaced_pod,
        "default",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=10,
    )
    most, fewest_ready = 0, 4
    for event in stream:
        obj = event["object"]
        if event["type"] == "DELETED":
            pods.pop(obj.metadata.name, None)
        else:
            pods[obj.metadata.name] = obj
        live = [p for p in pods.values() if p.metadata.deletion_timestamp is None]
        most = max(most, len(live))
        fewest_ready = min(fewest_ready, sum(is_ready(p) for p in live))
        if len(pods) == 4 and all(
            is_ready(p) and p.spec.containers[0].image == "nginx:2" for p in pods.values()
        ):
            stream.close()
    assert (most, fewest_ready) == (5, 4)  # replicas + maxSurge; replicas - maxUnavailable
    found = wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=4))
    assert found["web"].metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    revisions = replica_sets(apps)
    assert (revisions["1"].spec.replicas, revisions["2"].spec.replicas) == (0, 4)
    assert revisions["2"].metadata.annotations["deployment.kubernetes.io/max-replicas"] == "5"


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "new", "old"),
    [
        (3, "50%", "50%", 3, 2),  # surge ceil(1.5) = 2, unavailable floor(1.5) = 1
        (3, "25%", "25%", 1, 3),  # surge ceil(0.75) = 1, unavailable floor(0.75) = 0
        (3, 0, 1, 1, 2),
        (4, 1, 0, 1, 4),
        (10, "10%", "10%", 2, 9),
    ],
)
def test_a_stuck_rollout_stops_where_surge_and_unavailability_allow(
    emulator: KubeEmulator,
    apps: Any,
    replicas: int,
    surge: int | str,
    unavailable: int | str,
    new: int,
    old: int,
) -> None:
    body = deployment_body("web", LABELS, replicas)
    body["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }
    apps.create_namespaced_deployment("default", body)
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=replicas))

    set_image(apps, "registry/app:broken-v2")  # new pods never turn Ready

    def settled(found: Objects) -> bool:
        by_revision = {
            rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs
            for rs in found.values()
        }
        return (
            "2" in by_revision
            and (by_revision["2"].spec.replicas, by_revision["1"].spec.replicas) == (new, old)
            and by_revision["2"].status.replicas == new
            and by_revision["1"].status.replicas == old
        )

    wait_for(apps.list_namespaced_replica_set, "default", condition=settled)
    found = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: (
            d["web"].status.updated_replicas == new and d["web"].status.replicas == new + old
        ),
    )
    status = found["web"].status
    assert status.available_replicas == old
    assert not rolled_out(replicas=replicas)(found)


def test_recreate_starts_new_pods_only_once_every_old_pod_is_gone(
    emulator: KubeEmulator, apps: Any, core: Any
) -> None:
    emulator.grace_scale = 0.01  # old pods take 0.3 s to terminate
    body = deployment_body("web", LABELS, 2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    apps.create_namespaced_deployment("default", body)
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    listing = core.list_namespaced_pod("default")
    old = {p.metadata.name for p in listing.items}

    set_image(apps, "nginx:2")

    events: list[tuple[str, str]] = []
    stream = new_watch().stream(
        core.list_namespaced_pod,
        "default",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=10,
    )
    for event in stream:
        events.append((event["type"], event["object"].metadata.name))
        if len({n for t, n in events if t == "ADDED"}) == 2:
            stream.close()
    last_old_gone = max(i for i, (t, n) in enumerate(events) if t == "DELETED" and n in old)
    first_new = min(i for i, (t, n) in enumerate(events) if t == "ADDED")
    assert {n for t, n in events if t == "DELETED"} == old
    assert last_old_gone < first_new
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())


def test_pods_are_available_only_after_min_ready_seconds(emulator: KubeEmulator, apps: Any) -> None:
    emulator.progress_scale = 0.02  # minReadySeconds 10 -> 0.2 s
    body = deployment_body("web", LABELS, 2)
    body["spec"]["minReadySeconds"] = 10
    created = apps.create_namespaced_deployment("default", body)

    seen: list[tuple[int, int, str]] = []
    stream = new_watch().stream(
        apps.list_namespaced_deployment,
        "default",
        resource_version=created.metadata.resource_version,
        timeout_seconds=10,
    )
    for event in stream:
        status = event["object"].status
        available = condition(event["object"], "Available")
        seen.append(
            (
                status.ready_replicas or 0,
                status.available_replicas or 0,
                available.status if available else "",
            )
        )
        if (status.available_replicas or 0) == 2:
            stream.close()
    assert (2, 0, "False") in seen  # Ready, not yet available
    assert seen[-1] == (2, 2, "True")


def test_no_progress_within_the_deadline_is_progress_deadline_exceeded(
    emulator: KubeEmulator, apps: Any
) -> None:
    emulator.progress_scale = 0.01  # progressDeadlineSeconds 10 -> 0.1 s
    body = deployment_body("web", LABELS, 2, image="registry/app:broken-v1")
    body["spec"]["progressDeadlineSeconds"] = 10
    apps.create_namespaced_deployment("default", body)

    found = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: getattr(condition(d["web"], "Progressing"), "status", "") == "False",
    )

    progressing = condition(found["web"], "Progressing")
    (rs,) = apps.list_namespaced_replica_set("default").items
    assert progressing.reason == "ProgressDeadlineExceeded"
    assert progressing.message == f'ReplicaSet "{rs.metadata.name}" has timed out progressing.'
    assert found["web"].status.observed_generation == 1

    set_image(apps, "nginx:2")  # a fixed release progresses again, and completes

    found = wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    progressing = condition(found["web"], "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "NewReplicaSetAvailable")


def test_the_progressing_condition_tells_the_rollouts_steps(apps: Any) -> None:
    created = apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))

    steps: list[tuple[str, str, str]] = []
    stream = new_watch().stream(
        apps.list_namespaced_deployment,
        "default",
        resource_version=created.metadata.resource_version,
        timeout_seconds=10,
    )
    for event in stream:
        progressing = condition(event["object"], "Progressing")
        if progressing is not None and (not steps or steps[-1][1] != progressing.reason):
            steps.append((progressing.status, progressing.reason, progressing.message))
        if steps and steps[-1][1] == "NewReplicaSetAvailable":
            stream.close()

    (rs,) = apps.list_namespaced_replica_set("default").items
    name = rs.metadata.name
    assert steps == [
        ("True", "NewReplicaSetCreated", f'Created new replica set "{name}"'),
        ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'),
        ("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.'),
    ]


def test_rolling_back_to_an_old_template_reuses_its_replicaset(apps: Any) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    first = replica_sets(apps)["1"]
    set_image(apps, "nginx:2")
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())

    set_image(apps, "nginx:1.27")

    found = wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    revisions = replica_sets(apps)
    assert sorted(revisions) == ["2", "3"]
    assert revisions["3"].metadata.uid == first.metadata.uid
    assert revisions["3"].spec.replicas == 2 and revisions["2"].spec.replicas == 0
    assert found["web"].metadata.annotations["deployment.kubernetes.io/revision"] == "3"


def test_old_replicasets_beyond_the_history_limit_are_deleted(apps: Any) -> None:
    body = deployment_body("web", LABELS, 1)
    body["spec"]["revisionHistoryLimit"] = 1
    apps.create_namespaced_deployment("default", body)
    for image in ("nginx:2", "nginx:3"):
        wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=1))
        set_image(apps, image)
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=1))

    found = wait_for(apps.list_namespaced_replica_set, "default", condition=lambda rs: len(rs) == 2)

    by_revision = {
        rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs for rs in found.values()
    }
    assert sorted(by_revision) == ["2", "3"]
    assert by_revision["2"].spec.replicas == 0


def test_scaling_changes_the_current_replicaset_only(apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 3))
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=3))

    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 1}})

    found = wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=1))
    assert found["web"].status.observed_generation == 2
    (rs,) = apps.list_namespaced_replica_set("default").items
    assert rs.spec.replicas == 1
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    wait_for(core.list_namespaced_pod, "default", condition=ready_pods(1))


def test_deployment_strategy_is_validated(apps: Any) -> None:
    body = deployment_body("web", LABELS, 2)
    body["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"},
    }
    with pytest.raises(client.ApiException) as both_zero:
        apps.create_namespaced_deployment("default", body)
    assert both_zero.value.status == 422
    body["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    with pytest.raises(client.ApiException) as recreate:
        apps.create_namespaced_deployment("default", body)
    assert recreate.value.status == 422


def test_replication_controllers_keep_their_pods_when_the_template_changes(core: Any) -> None:
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": LABELS,
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }
    core.create_namespaced_replication_controller("default", body)
    before = wait_for(core.list_namespaced_pod, "default", condition=ready_pods(2))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}

    core.patch_namespaced_replication_controller("web", "default", patch)

    rcs = wait_for(
        core.list_namespaced_replication_controller,
        "default",
        condition=lambda rcs: rcs["web"].status.observed_generation == 2,
    )
    assert rcs["web"].status.ready_replicas == 2
    after = core.list_namespaced_pod("default").items
    assert sorted(p.metadata.name for p in after) == sorted(before)  # no rollout: same pods
    assert core.list_namespaced_pod("default", label_selector="pod-template-hash").items == []


def test_a_deployment_made_again_adopts_the_replicaset_an_orphan_delete_left(
    apps: Any, core: Any
) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    pods = {p.metadata.name for p in core.list_namespaced_pod("default").items}
    apps.delete_namespaced_deployment("web", "default", propagation_policy="Orphan")
    wait_for(apps.list_namespaced_deployment, "default", condition=lambda found: not found)

    again = apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))

    found = wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    (rs,) = apps.list_namespaced_replica_set("default").items
    assert rs.metadata.owner_references[0].uid == again.metadata.uid
    assert {p.metadata.name for p in core.list_namespaced_pod("default").items} == pods
    assert found["web"].status.updated_replicas == 2


def test_pods_shutting_down_are_counted_as_terminating_not_as_replicas(
    emulator: KubeEmulator, apps: Any
) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", LABELS, 2))
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out())
    emulator.grace_scale = 1.0  # the pods stay terminating for the rest of the test

    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 0}})

    found = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: d["web"].status.terminating_replicas == 2,
    )
    assert not found["web"].status.replicas and not found["web"].status.ready_replicas
    (rs,) = apps.list_namespaced_replica_set("default").items
    assert (rs.status.replicas, rs.status.terminating_replicas) == (0, 2)


def test_recreate_waits_for_an_old_pod_held_by_a_finalizer(apps: Any, core: Any) -> None:
    body = deployment_body("web", LABELS, 1)
    body["spec"]["strategy"] = {"type": "Recreate"}
    apps.create_namespaced_deployment("default", body)
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=1))
    (old,) = core.list_namespaced_pod("default").items
    hold = {"metadata": {"finalizers": ["example.com/hold"]}}
    core.patch_namespaced_pod(old.metadata.name, "default", hold)

    set_image(apps, "nginx:2")

    found = wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: d["web"].status.terminating_replicas == 1,
    )
    assert not found["web"].status.updated_replicas  # no new pod while the old one is there
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == [
        old.metadata.name
    ]
    core.patch_namespaced_pod(old.metadata.name, "default", {"metadata": {"finalizers": None}})
    wait_for(apps.list_namespaced_deployment, "default", condition=rolled_out(replicas=1))
