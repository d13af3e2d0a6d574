"""The emulators tell the product's requests from everyone else's, which is what lets the
session check (tests/conftest.py) compare the product's operations with the docs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.operations import Operation
from tests.e2e.world import App, kube_api, make_app


def new_operations(before: Counter[Operation], after: Counter[Operation]) -> set[Operation]:
    return {operation for operation, n in after.items() if n > before.get(operation, 0)}


def test_aws_requests_of_a_bluegreen_command_are_the_products_and_setup_is_not(
    sandbox: Sandbox,
) -> None:
    before = sandbox.aws.operations.counts()
    app = make_app(sandbox, sandbox.folder / "least-privilege")  # the test sets the scene
    after_setup = sandbox.aws.operations.counts()

    result = app.bluegreen("status")

    assert result.returncode == 0, result.stderr
    setup = new_operations(before, after_setup)
    assert ("other", "elasticloadbalancing", "CreateLoadBalancer") in setup
    assert ("other", "iam", "UploadServerCertificate") in setup
    assert not [op for op in setup if op[0] == "product"]
    assert new_operations(after_setup, sandbox.aws.operations.counts()) == {
        ("product", "elasticloadbalancing", "DescribeLoadBalancers"),
        ("product", "elasticloadbalancing", "DescribeTags"),
    }


def test_kubernetes_requests_of_a_bluegreen_command_are_the_products(app: App) -> None:
    kube = app.sandbox.kube.operations
    before = kube.counts()
    app.pods("blue")  # the test reading state back
    after_read_back = kube.counts()

    result = app.bluegreen("readiness")

    assert result.returncode == 0, result.stderr
    assert new_operations(before, after_read_back) == {("other", "/pods", "list")}
    product = new_operations(after_read_back, kube.counts())
    assert product and all(caller == "product" for caller, _api, _verb in product)
    assert ("product", "coordination.k8s.io/leases", "get") in product


# --- the product paths the example app does not take, so that every grant is exercised --------

V1, V2, V3 = "1111111aaaaaaaa", "2222222bbbbbbbb", "3333333cccccccc"
REPLICATION_CONTROLLER = """apiVersion: v1
kind: ReplicationController
metadata:
  name: ${APPLICATION_NAME}-${COLOR}
spec:
  replicas: 2
  selector: {app: ${APPLICATION_NAME}, color: ${COLOR}}
  template:
    metadata:
      labels: {app: ${APPLICATION_NAME}, color: ${COLOR}}
    spec:
      containers:
        - name: web
          image: octoblu/${APPLICATION_NAME}:${COMMIT}
"""


def deploy(app: App, commit: str) -> None:
    result = app.bluegreen("deploy", "--commit", commit)
    assert result.returncode == 0, result.stderr


def template(app: App, part: str) -> Path:
    return app.folder / ".kubernetes" / "deploy" / f"{app.name}-{part}.yaml.tmpl"


def test_the_seeds_replication_controllers_are_replaced_release_after_release(app: App) -> None:
    template(app, "controller").write_text(REPLICATION_CONTROLLER)

    for commit in (V1, V2, V3):  # green, blue, then green again: its old RC goes first
        deploy(app, commit)

    controllers = app.core.list_namespaced_replication_controller(
        "default", label_selector=f"bluegreen.io/application={app.name}"
    ).items
    assert sorted(
        (c.metadata.labels["bluegreen.io/color"], c.metadata.labels["bluegreen.io/commit"])
        for c in controllers
    ) == [("blue", V2), ("green", V3)]
    assert app.instance_ports() == {app.green}
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V3}


def test_a_changed_service_template_replaces_the_colors_service(app: App) -> None:
    deploy(app, V1)
    deploy(app, V2)
    before = {s.metadata.name: s.metadata.uid for s in app.services()}
    service = template(app, "service")
    service.write_text(service.read_text().replace("port: 80\n", "port: 8080\n"))

    deploy(app, V3)  # green again, with the new Service

    after = {s.metadata.name: s for s in app.services()}
    green = f"{app.name}-green"
    assert after[green].metadata.uid != before[green]
    assert after[green].spec.ports[0].port == 8080
    assert after[f"{app.name}-blue"].metadata.uid == before[f"{app.name}-blue"]


def test_a_deploy_takes_over_a_lock_whose_holder_died(app: App) -> None:
    kube_api("CoordinationV1Api").create_namespaced_lease(
        "default",
        {
            "metadata": {"name": f"{app.name}-bluegreen-lock"},
            "spec": {
                "holderIdentity": "cli-crashed-long-ago",
                "leaseDurationSeconds": 30,
                # not a whole second: the typed client re-serialises times with isoformat(),
                # which drops a zero fraction, and a MicroTime needs all six digits
                "renewTime": "2020-01-01T00:00:00.000001Z",
            },
        },
    )

    deploy(app, V1)

    assert app.instance_ports() == {app.green}
