"""The emulators tell the product's requests from everyone else's, which is what lets the
session check (tests/conftest.py) compare the product's operations with the docs."""

from __future__ import annotations

from collections import Counter

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.operations import Operation
from tests.e2e.world import App, make_app


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
