"""Deploy, rollback and the hooks against a cluster where deletes take time and Deployments
roll out through ReplicaSets: grace periods, finalizers, minReadySeconds, progress deadlines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import watch

from tests.e2e import runs
from tests.e2e.test_hooks import COMMIT, run_all, unpack_bundle
from tests.e2e.test_least_privilege import REPLICATION_CONTROLLER
from tests.e2e.world import App

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"
V3 = "3333333cccccccc"
BROKEN = "broken0dddddddd"
HOLD = "example.com/hold"


@pytest.fixture
def slow_cluster(app: App) -> Iterator[App]:
    """Pods take 0.6 s to terminate (a 30 s grace period at 0.02), put back afterwards."""
    kube = app.sandbox.kube
    grace, progress = kube.grace_scale, kube.progress_scale
    kube.grace_scale = 0.02
    try:
        yield app
    finally:
        kube.grace_scale, kube.progress_scale = grace, progress


def deploy(app: App, commit: str) -> None:
    result = app.bluegreen("deploy", "--commit", commit)
    assert result.returncode == 0, result.stderr


def workload_name(app: App, color: str) -> str:
    return f"{app.name}-{color}"


def watch_until(
    list_func: Callable[..., Any], since: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Events in "default" after `since` until `done(events so far)`."""
    events: list[dict[str, Any]] = []
    factory: Any = watch.Watch
    stream = factory().stream(list_func, "default", resource_version=since, timeout_seconds=30)
    for event in stream:
        events.append(event)
        if done(events):
            stream.close()
            return events
    raise AssertionError(f"not done after {len(events)} events")


def hold_and_delete(app: App, kind: str, name: str) -> None:
    """Put our finalizer on an object and delete it: it stays, terminating, until released."""
    patch = {"metadata": {"finalizers": [HOLD]}}
    if kind == "Deployment":
        app.apps.patch_namespaced_deployment(name, "default", patch)
        app.apps.delete_namespaced_deployment(name, "default")
    else:
        app.core.patch_namespaced_service(name, "default", patch)
        app.core.delete_namespaced_service(name, "default")


def release(app: App, kind: str, name: str) -> None:
    patch = {"metadata": {"finalizers": None}}
    if kind == "Deployment":
        app.apps.patch_namespaced_deployment(name, "default", patch)
    else:
        app.core.patch_namespaced_service(name, "default", patch)


def deploy_waiting_for_a_held_workload(
    app: App,
) -> tuple[str, dict[int, dict[str, Any]], runs.Background]:
    """V1 then V2 deployed, green's Deployment held by a finalizer while it is deleted, and a
    deploy of V3 started and waiting for it: the workload's name, the listeners before the
    deploy started, and the running deploy."""
    deploy(app, V1)
    deploy(app, V2)
    name = workload_name(app, "green")
    hold_and_delete(app, "Deployment", name)
    before = app.listeners()
    run = runs.start(app, "deploy", "--commit", V3, "--log-format", "json")
    run.wait_for("waiting for deletion")
    return name, before, run


@pytest.mark.slow
def test_a_deploy_waits_out_the_grace_period_of_the_old_colors_pods(slow_cluster: App) -> None:
    app = slow_cluster
    deploy(app, V1)
    deploy(app, V2)
    old_pods = {p.metadata.name for p in app.pods("green")}
    old = app.apps.read_namespaced_deployment(workload_name(app, "green"), "default")
    since = app.core.list_namespaced_pod("default").metadata.resource_version

    deploy(app, V3)

    events = watch_until(
        app.core.list_namespaced_pod,
        since,
        lambda seen: (
            old_pods <= {e["object"].metadata.name for e in seen if e["type"] == "DELETED"}
        ),
    )
    terminating = {
        e["object"].metadata.name
        for e in events
        if e["type"] == "MODIFIED" and e["object"].metadata.deletion_timestamp is not None
    }
    assert old_pods <= terminating  # each old pod went through its grace period
    new = app.apps.read_namespaced_deployment(workload_name(app, "green"), "default")
    assert new.metadata.uid != old.metadata.uid
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V3}
    assert not old_pods & {p.metadata.name for p in app.pods("green")}
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": V3}


@pytest.mark.slow
def test_a_deploy_waits_for_a_workload_held_by_a_finalizer_then_replaces_it(
    slow_cluster: App,
) -> None:
    app = slow_cluster
    name, before, run = deploy_waiting_for_a_held_workload(app)
    assert app.listeners() == before  # nothing switched while it waits
    release(app, "Deployment", name)
    code, stderr = run.finish()

    assert code == 0, stderr
    assert HOLD in stderr  # it said what held the workload
    deployment = app.apps.read_namespaced_deployment(name, "default")
    assert deployment.metadata.deletion_timestamp is None
    assert deployment.metadata.labels["bluegreen.io/commit"] == V3
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": V3}


def test_a_service_name_still_being_deleted_is_waited_for_then_created(slow_cluster: App) -> None:
    app = slow_cluster
    name = workload_name(app, "green")
    service = {
        "metadata": {"name": name},
        "spec": {"type": "ClusterIP", "ports": [{"port": 80}]},
    }
    app.core.create_namespaced_service("default", service)
    hold_and_delete(app, "Service", name)

    run = runs.start(app, "deploy", "--commit", V1, "--log-format", "json")
    run.wait_for("waiting for deletion")
    release(app, "Service", name)
    code, stderr = run.finish()

    assert code == 0, stderr
    created = app.core.read_namespaced_service(name, "default")
    assert created.spec.type == "NodePort" and created.spec.ports[0].node_port == app.green
    assert created.metadata.deletion_timestamp is None
    assert app.instance_ports() == {app.green}


@pytest.mark.slow
def test_a_deploy_waiting_on_a_held_workload_names_the_finalizer_and_stops_on_sigterm(
    slow_cluster: App,
) -> None:
    app = slow_cluster
    name, before, run = deploy_waiting_for_a_held_workload(app)
    run.proc.terminate()
    code, stderr = run.finish()

    assert code == 143
    assert f'"{name}": ["{HOLD}"]' in stderr
    assert app.listeners() == before
    release(app, "Deployment", name)


def test_a_progress_deadline_exceeded_fails_the_deploy_at_once_with_the_reason(
    slow_cluster: App,
) -> None:
    app = slow_cluster
    template = next(app.folder.glob(".kubernetes/deploy/*-controller.yaml.tmpl"))
    text = template.read_text()
    template.write_text(
        text.replace("  replicas: 2\n", "  replicas: 2\n  progressDeadlineSeconds: 30\n")
    )
    app.settings(**{"ready-timeout": 600})  # far longer than the test may take
    deploy(app, V1)
    before = app.snapshot()
    app.sandbox.kube.progress_scale = 0.01  # progressDeadlineSeconds 30 -> 0.3 s

    result = app.bluegreen("deploy", "--commit", BROKEN)

    name = workload_name(app, "blue")
    assert result.returncode == 1
    assert f"Deployment {name} exceeded its progress deadline" in result.stderr
    assert "has timed out progressing" in result.stderr
    assert "after 600 s" not in result.stderr  # it did not wait out the ready-timeout
    assert "traffic was not touched" in result.stderr
    assert app.listeners() == before["listeners"]
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": V1}


def test_rollback_is_refused_while_the_idle_pods_are_ready_but_not_yet_available(
    slow_cluster: App,
) -> None:
    app = slow_cluster
    deploy(app, V1)
    deploy(app, V2)
    app.sandbox.kube.progress_scale = 1.0  # minReadySeconds as on a cluster
    name = workload_name(app, "green")
    restart = {
        "spec": {
            "minReadySeconds": 3600,
            "strategy": {"type": "Recreate", "rollingUpdate": None},
            "template": {"metadata": {"annotations": {"restartedAt": "now"}}},
        }
    }
    patched = app.apps.patch_namespaced_deployment(name, "default", restart)

    def ready_not_available(events: list[dict[str, Any]]) -> bool:
        d = events[-1]["object"]
        s = d.status
        return (
            d.metadata.name == name
            and (s.observed_generation or 0) >= d.metadata.generation
            and (s.updated_replicas, s.ready_replicas, s.replicas) == (2, 2, 2)
        )

    events = watch_until(
        app.apps.list_namespaced_deployment, patched.metadata.resource_version, ready_not_available
    )
    assert not events[-1]["object"].status.available_replicas
    readiness = app.bluegreen("readiness", "--output", "json")
    before = app.snapshot()

    result = app.bluegreen("rollback")

    assert '"green": {"ready": 0, "desired": 2, "complete": false}' in readiness.stdout
    assert result.returncode == 1
    assert "refusing to roll back to green: 0/2 replicas Ready" in result.stderr
    assert app.snapshot() == before


@pytest.mark.slow
def test_a_deploy_replaces_an_idle_deployment_caught_mid_rollout(slow_cluster: App) -> None:
    app = slow_cluster
    deploy(app, V1)
    deploy(app, V2)
    name = workload_name(app, "green")
    green = f"bluegreen.io/application={app.name},bluegreen.io/color=green"
    broken = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": app.name, "image": "octoblu/app:broken-x"}]}
            }
        }
    }
    patched = app.apps.patch_namespaced_deployment(name, "default", broken)
    watch_until(
        app.apps.list_namespaced_replica_set,
        patched.metadata.resource_version,
        lambda seen: any(  # a second ReplicaSet whose pod never turns Ready
            e["object"].spec.template.spec.containers[0].image == "octoblu/app:broken-x"
            and e["object"].status.replicas == 1
            for e in seen
        ),
    )
    assert len(app.apps.list_namespaced_replica_set("default", label_selector=green).items) == 2

    deploy(app, V3)

    sets = app.apps.list_namespaced_replica_set("default", label_selector=green).items
    assert len(sets) == 1 and sets[0].metadata.labels["bluegreen.io/commit"] == V3
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V3}
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": V3}


@pytest.mark.slow
def test_the_hooks_release_while_old_pods_take_their_grace_period(slow_cluster: App) -> None:
    app = slow_cluster
    deploy(app, V1)
    deploy(app, V2)
    old_pods = {p.metadata.name for p in app.pods("green")}
    bundle = unpack_bundle(app, "d-SLOW")

    run_all(app, bundle, "d-SLOW")

    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": COMMIT}
    pods = app.pods("green")
    assert {p.metadata.labels["bluegreen.io/commit"] for p in pods} == {COMMIT}
    assert not old_pods & {p.metadata.name for p in pods}
    assert all(p.metadata.deletion_timestamp is None for p in pods)


@pytest.mark.slow
def test_the_seeds_replication_controllers_are_replaced_after_their_pods_terminate(
    slow_cluster: App,
) -> None:
    app = slow_cluster
    template = next(app.folder.glob(".kubernetes/deploy/*-controller.yaml.tmpl"))
    template.write_text(REPLICATION_CONTROLLER)
    deploy(app, V1)
    deploy(app, V2)
    old_pods = {p.metadata.name for p in app.pods("green")}
    since = app.core.list_namespaced_pod("default").metadata.resource_version

    deploy(app, V3)

    def replaced(seen: list[dict[str, Any]]) -> bool:
        deleted = {e["object"].metadata.name for e in seen if e["type"] == "DELETED"}
        return old_pods <= deleted and any(
            e["type"] == "ADDED" and e["object"].metadata.labels.get("bluegreen.io/commit") == V3
            for e in seen
        )

    events = watch_until(app.core.list_namespaced_pod, since, replaced)
    gone = max(
        int(e["object"].metadata.resource_version)
        for e in events
        if e["type"] == "DELETED" and e["object"].metadata.name in old_pods
    )
    first_new = min(
        int(e["object"].metadata.resource_version)
        for e in events
        if e["type"] == "ADDED" and e["object"].metadata.labels.get("bluegreen.io/commit") == V3
    )
    assert gone < first_new  # the old color's pods were gone before its new RC started any
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V3}
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": V3}


def test_a_namespace_being_deleted_is_refused_before_anything_changes(app: App) -> None:
    namespace = f"doomed-{app.name}"
    app.core.create_namespace({"metadata": {"name": namespace}})
    held = {"metadata": {"name": "held", "finalizers": [HOLD]}, "spec": {"ports": [{"port": 80}]}}
    app.core.create_namespaced_service(namespace, held)
    app.core.delete_namespace(namespace)  # Terminating until our finalizer goes
    app.settings(namespace=namespace)
    before = app.snapshot()

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 2, result.stderr
    assert f"namespace '{namespace}' is being deleted" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.snapshot() == before
    assert app.core.read_namespace(namespace).status.phase == "Terminating"
    app.core.patch_namespaced_service("held", namespace, {"metadata": {"finalizers": None}})
