"""CRUD of every kind through the official client, error Status bodies, discovery, counters."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import deployment_body, is_model, pod_body, rc_body, status_body, wait_for


def test_pod_crud(emulator: KubeEmulator, core: Any) -> None:
    emulator.ready_delay = 60  # keep the pod Pending: a status change would make `read` stale
    created = core.create_namespaced_pod("default", pod_body("web", {"app": "web"}))
    assert is_model(created, client.V1Pod)
    assert created.kind == "Pod" and created.api_version == "v1"
    meta = created.metadata
    assert meta.namespace == "default" and meta.uid and int(meta.resource_version) > 0
    assert isinstance(meta.creation_timestamp, datetime.datetime)
    assert created.status.phase == "Pending"
    assert created.spec.node_name == "sandbox-node"

    read = core.read_namespaced_pod("web", "default")
    assert read.metadata.uid == meta.uid

    listing = core.list_namespaced_pod("default")
    assert is_model(listing, client.V1PodList)
    assert listing.kind == "PodList" and listing.api_version == "v1"
    assert [p.metadata.name for p in listing.items] == ["web"]
    assert int(listing.metadata.resource_version) >= int(meta.resource_version)

    read.metadata.labels["tier"] = "front"
    replaced = core.replace_namespaced_pod("web", "default", read)
    assert replaced.metadata.labels == {"app": "web", "tier": "front"}
    assert int(replaced.metadata.resource_version) > int(read.metadata.resource_version)

    patched = core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"x": "1"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "front", "x": "1"}

    deleted = core.delete_namespaced_pod("web", "default")
    assert is_model(deleted, client.V1Pod) and deleted.metadata.name == "web"
    assert deleted.metadata.deletion_timestamp is not None  # scheduled: a grace period first
    assert deleted.metadata.deletion_grace_period_seconds == 30
    wait_for(core.list_namespaced_pod, "default", condition=lambda pods: not pods)


def test_pod_generate_name_and_patch_types(core: Any) -> None:
    body = pod_body("")
    body["metadata"] = {"generateName": "job-", "labels": {"a": "1", "b": "2"}}
    pod = core.create_namespaced_pod("default", body)
    name = pod.metadata.name
    assert name.startswith("job-") and len(name) == len("job-") + 5

    merged = core.patch_namespaced_pod(
        name,
        "default",
        {"metadata": {"labels": {"a": None, "c": "3"}}},
        _content_type="application/merge-patch+json",
    )
    assert merged.metadata.labels == {"b": "2", "c": "3"}

    json_patched = core.patch_namespaced_pod(
        name,
        "default",
        [
            {"op": "test", "path": "/metadata/labels/b", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/b", "value": "two"},
            {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}},
        ],
    )
    assert json_patched.metadata.labels == {"b": "two", "c": "3"}
    assert json_patched.metadata.annotations == {"note": "hi"}

    with pytest.raises(client.ApiException) as failed:
        core.patch_namespaced_pod(
            name, "default", [{"op": "test", "path": "/metadata/labels/b", "value": "nope"}]
        )
    assert failed.value.status == 422


def test_service_crud(core: Any) -> None:
    body = {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
    }
    svc = core.create_namespaced_service("default", body)
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.cluster_ip.startswith("10.96.") and svc.spec.cluster_ips == [
        svc.spec.cluster_ip
    ]
    assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP"
    assert svc.spec.ports[0].node_port is None

    listing = core.list_namespaced_service("default")
    assert is_model(listing, client.V1ServiceList) and listing.kind == "ServiceList"

    svc.spec.selector = {"app": "web", "color": "blue"}
    replaced = core.replace_namespaced_service("web", "default", svc)
    assert replaced.spec.selector == {"app": "web", "color": "blue"}
    assert replaced.spec.cluster_ip == svc.spec.cluster_ip

    patched = core.patch_namespaced_service(
        "web", "default", {"spec": {"selector": {"color": "green"}}}
    )
    assert patched.spec.selector == {"app": "web", "color": "green"}

    deleted = core.delete_namespaced_service("web", "default")
    assert is_model(deleted, client.V1Service)
    assert core.list_namespaced_service("default").items == []


def test_replication_controller_crud(core: Any) -> None:
    rc = core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 0))
    assert rc.status.replicas == 0
    assert rc.metadata.generation == 1
    assert rc.metadata.labels == {"app": "web"}  # defaulted from the template

    listing = core.list_namespaced_replication_controller("default")
    assert listing.kind == "ReplicationControllerList"
    assert listing.items[0].status.replicas is not None

    read = core.read_namespaced_replication_controller("web", "default")
    read.spec.min_ready_seconds = 5
    replaced = core.replace_namespaced_replication_controller("web", "default", read)
    assert replaced.metadata.generation == 2 and replaced.spec.min_ready_seconds == 5

    status = core.read_namespaced_replication_controller_status("web", "default")
    assert status.status.replicas == 0

    result = core.delete_namespaced_replication_controller("web", "default")
    parsed: Any = client.V1Status.from_dict(result)
    assert parsed is not None and parsed.status == "Success" and parsed.details.name == "web"
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_replication_controller("web", "default")
    assert missing.value.status == 404


def test_deployment_crud(apps: Any) -> None:
    created = apps.create_namespaced_deployment(
        "default", deployment_body("web", {"app": "web"}, replicas=0)
    )
    assert is_model(created, client.V1Deployment)
    assert created.api_version == "apps/v1" and created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"

    listing = apps.list_namespaced_deployment("default")
    assert listing.kind == "DeploymentList" and listing.api_version == "apps/v1"

    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 0}})
    assert scaled.metadata.generation == 1  # no-op patch: the spec did not change

    labelled = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"color": "blue"}}}
    )
    assert labelled.metadata.generation == 1  # metadata is not spec

    read = apps.read_namespaced_deployment("web", "default")
    read.spec.min_ready_seconds = 3
    replaced = apps.replace_namespaced_deployment("web", "default", read)
    assert replaced.metadata.generation == 2

    status = apps.read_namespaced_deployment_status("web", "default")
    assert status.metadata.name == "web"

    result = apps.delete_namespaced_deployment("web", "default")
    parsed: Any = client.V1Status.from_dict(result)
    assert parsed.status == "Success"
    assert apps.list_namespaced_deployment("default").items == []


def test_lease_crud_and_optimistic_concurrency(coordination: Any) -> None:
    now = datetime.datetime.now(datetime.UTC)
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="deploy-lock"),
        spec=client.V1LeaseSpec(
            holder_identity="a", lease_duration_seconds=15, acquire_time=now, renew_time=now
        ),
    )
    created = coordination.create_namespaced_lease("default", lease)
    assert created.spec.holder_identity == "a"
    assert isinstance(created.spec.renew_time, datetime.datetime)
    assert coordination.list_namespaced_lease("default").kind == "LeaseList"

    created.spec.holder_identity = "b"
    taken = coordination.replace_namespaced_lease("deploy-lock", "default", created)
    assert taken.spec.holder_identity == "b"

    created.spec.holder_identity = "c"  # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as stale:
        coordination.replace_namespaced_lease("deploy-lock", "default", created)
    assert stale.value.status == 409
    body = status_body(stale.value)
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]

    patched = coordination.patch_namespaced_lease(
        "deploy-lock", "default", {"spec": {"leaseTransitions": 1}}
    )
    assert patched.spec.lease_transitions == 1 and patched.spec.holder_identity == "b"
    unchanged = coordination.patch_namespaced_lease(
        "deploy-lock", "default", {"spec": {"leaseTransitions": 1}}
    )
    assert unchanged.metadata.resource_version == patched.metadata.resource_version  # no-op

    coordination.delete_namespaced_lease("deploy-lock", "default")
    assert coordination.list_namespaced_lease("default").items == []


def test_namespaces_and_node(core: Any) -> None:
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system"} <= names
    ns = core.create_namespace({"metadata": {"name": "blue"}})
    assert ns.status.phase == "Active"
    assert core.read_namespace("blue").metadata.labels["kubernetes.io/metadata.name"] == "blue"
    core.create_namespaced_pod("blue", pod_body("p"))

    terminating = core.delete_namespace("blue")
    assert terminating["status"]["phase"] == "Terminating"  # asynchronous, like a cluster's
    wait_for(core.list_namespace, condition=lambda found: "blue" not in found)
    assert core.list_pod_for_all_namespaces().items == []

    with pytest.raises(client.ApiException) as forbidden:
        core.delete_namespace("default")
    assert forbidden.value.status == 403

    nodes = core.list_node()
    assert nodes.kind == "NodeList" and len(nodes.items) == 1
    node = core.read_node("sandbox-node")
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses["InternalIP"] == "127.0.0.1"
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def test_missing_namespace_and_object_are_404(core: Any) -> None:
    with pytest.raises(client.ApiException) as no_ns:
        core.create_namespaced_pod("nope", pod_body("p"))
    body = status_body(no_ns.value)
    assert (no_ns.value.status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'namespaces "nope" not found'

    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_pod("ghost", "default")
    body = status_body(missing.value)
    assert body["reason"] == "NotFound" and body["message"] == 'pods "ghost" not found'
    assert body["details"] == {"name": "ghost", "kind": "pods"}


def test_already_exists_and_invalid(core: Any, apps: Any) -> None:
    core.create_namespaced_pod("default", pod_body("dup"))
    with pytest.raises(client.ApiException) as dup:
        core.create_namespaced_pod("default", pod_body("dup"))
    assert (dup.value.status, status_body(dup.value)["reason"]) == (409, "AlreadyExists")

    with pytest.raises(client.ApiException) as bad_name:
        core.create_namespaced_pod("default", pod_body("Not_A_Name"))
    assert (bad_name.value.status, status_body(bad_name.value)["reason"]) == (422, "Invalid")

    mismatched = deployment_body("web", {"app": "web"})
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(client.ApiException) as bad_deploy:
        apps.create_namespaced_deployment("default", mismatched)
    assert bad_deploy.value.status == 422
    assert "selector" in status_body(bad_deploy.value)["message"]

    no_template = rc_body("rc", {"app": "rc"})
    del no_template["spec"]["template"]
    with pytest.raises(client.ApiException) as bad_rc:
        core.create_namespaced_replication_controller("default", no_template)
    assert bad_rc.value.status == 422


def test_raw_errors(emulator: KubeEmulator, api_client: Any) -> None:
    rest = api_client.rest_client

    def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        response = rest.request(method, emulator.url + path, headers=headers, body=body)
        return response.status, json.loads(response.read())

    code, body = call("POST", "/api/v1/namespaces/default/pods", "{not json")
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = call("GET", "/api/v1/widgets")
    assert (code, body["reason"]) == (404, "NotFound")
    code, body = call("PUT", "/api/v1/namespaces/default/pods", {})
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = call("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(")
    assert (code, body["reason"]) == (400, "BadRequest")


def test_delete_collection(core: Any) -> None:
    for i, color in enumerate(["blue", "blue", "green"]):
        core.create_namespaced_pod("default", pod_body(f"p{i}", {"color": color}))
    result = core.delete_collection_namespaced_pod("default", label_selector="color=blue")
    assert is_model(result, client.V1Status) and result.status == "Success"
    wait_for(core.list_namespaced_pod, "default", condition=lambda pods: list(pods) == ["p2"])


def test_list_pagination(core: Any) -> None:
    for i in range(5):
        core.create_namespaced_pod("default", pod_body(f"p{i}"))
    first = core.list_namespaced_pod("default", limit=2)
    assert [p.metadata.name for p in first.items] == ["p0", "p1"]
    assert first.metadata.remaining_item_count == 3
    rest = core.list_namespaced_pod("default", limit=10, _continue=first.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["p2", "p3", "p4"]
    assert rest.metadata._continue is None


def test_discovery(api_client: Any) -> None:
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "coordination.k8s.io"} <= groups
    core_resources = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "services", "replicationcontrollers", "namespaces", "nodes"} <= core_resources
    app_resources = {r.name for r in client.AppsV1Api(api_client).get_api_resources().resources}
    assert "deployments" in app_resources


def test_request_counters(emulator: KubeEmulator, core: Any) -> None:
    emulator.reset_counters()
    core.create_namespaced_pod("default", pod_body("p"))
    core.read_namespaced_pod("p", "default")
    core.list_namespaced_pod("default")
    core.delete_namespaced_pod("p", "default", grace_period_seconds=0)  # gone at once
    with pytest.raises(client.ApiException):
        core.read_namespaced_pod("p", "default")
    assert emulator.request_count == 5
    assert emulator.requests_by_verb == {"POST": 1, "GET": 3, "DELETE": 1}
    emulator.reset_counters()
    assert emulator.request_count == 0 and emulator.requests_by_verb == {}


def test_status_subresource_and_main_resource_split(
    emulator: KubeEmulator, core: Any, apps: Any
) -> None:
    emulator.ready_delay = 60  # the controller leaves the pod alone meanwhile
    core.create_namespaced_pod("default", pod_body("p"))
    ignored = core.patch_namespaced_pod("p", "default", {"status": {"phase": "Failed"}})
    assert ignored.status.phase == "Pending"  # the main resource ignores status
    updated = core.patch_namespaced_pod_status(
        "p", "default", {"status": {"message": "hello"}, "spec": {"nodeName": "elsewhere"}}
    )
    assert updated.status.message == "hello"
    assert updated.spec.node_name == "sandbox-node"  # /status ignores spec

    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 0))
    with pytest.raises(client.ApiException) as immutable:
        apps.patch_namespaced_deployment(
            "web", "default", {"spec": {"selector": {"matchLabels": {"app": "other"}}}}
        )
    assert immutable.value.status == 422


def test_stale_patch_precondition_and_dry_run(core: Any) -> None:
    svc = core.create_namespaced_service(
        "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    stale = svc.metadata.resource_version
    core.patch_namespaced_service("s", "default", {"metadata": {"labels": {"a": "1"}}})
    with pytest.raises(client.ApiException) as conflict:
        core.patch_namespaced_service(
            "s", "default", {"metadata": {"resourceVersion": stale, "labels": {"a": "2"}}}
        )
    assert (conflict.value.status, status_body(conflict.value)["reason"]) == (409, "Conflict")

    core.create_namespaced_pod("default", pod_body("dry"), dry_run="All")
    assert core.list_namespaced_pod("default").items == []
