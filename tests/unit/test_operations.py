"""Naming what a request asked for (sandbox/operations.py) and comparing it with the docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.identity import USER_AGENT
from bluegreen_hooks.sandbox.operations import (
    OPERATIONS_ENV,
    OperationLog,
    aws_action,
    aws_operation,
    kube_operation,
)
from tests import permissions


def signed(service: str, **environ: str) -> dict[str, Any]:
    auth = f"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-west-2/{service}/aws4_request, X=y"
    return {"HTTP_AUTHORIZATION": auth, "REQUEST_METHOD": "GET", "PATH_INFO": "/", **environ}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            signed("elasticloadbalancing", QUERY_STRING="Action=DescribeTags"),
            ("elasticloadbalancing", "DescribeTags"),
        ),
        (
            signed("codedeploy", HTTP_X_AMZ_TARGET="CodeDeploy_20141006.CreateDeployment"),
            ("codedeploy", "CreateDeployment"),
        ),
        (signed("s3", REQUEST_METHOD="HEAD", PATH_INFO="/b/app/app-c.zip"), ("s3", "HeadObject")),
        (signed("s3", REQUEST_METHOD="PUT", PATH_INFO="/b/app/app-c.zip"), ("s3", "PutObject")),
        (
            signed("s3", PATH_INFO="/b", QUERY_STRING="list-type=2&prefix=app/"),
            ("s3", "ListObjectsV2"),
        ),
        (signed("s3", REQUEST_METHOD="PUT", PATH_INFO="/b"), ("s3", "CreateBucket")),
    ],
)
def test_aws_operation_names_service_and_action(
    environ: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert aws_operation(environ, aws_action(environ)) == expected


@pytest.mark.parametrize(
    ("method", "path", "watching", "expected"),
    [
        ("GET", "/api/v1/namespaces/default", False, ("/namespaces", "get")),
        ("GET", "/api/v1/namespaces/default/pods", False, ("/pods", "list")),
        ("GET", "/api/v1/namespaces/default/pods", True, ("/pods", "watch")),
        ("DELETE", "/api/v1/namespaces/default/pods", False, ("/pods", "deletecollection")),
        ("DELETE", "/api/v1/namespaces/d/services/web", False, ("/services", "delete")),
        ("POST", "/apis/apps/v1/namespaces/d/deployments", False, ("apps/deployments", "create")),
        (
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/d/leases/app-bluegreen-lock",
            False,
            ("coordination.k8s.io/leases", "update"),
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/d/deployments/w/status",
            False,
            ("apps/deployments/status", "patch"),
        ),
        ("GET", "/version", False, ("nonResourceURL:/version", "get")),
    ],
)
def test_kube_operation_names_resource_and_verb_as_rbac_does(
    method: str, path: str, watching: bool, expected: tuple[str, str]
) -> None:
    assert kube_operation(method, path, watching) == expected


def test_a_log_tells_the_product_by_its_user_agent_and_saves_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = OperationLog("aws")
    log.add(f"Boto3/1.0 app/{USER_AGENT.replace('/', '-')} Botocore/1.0", "s3", "GetObject")
    log.add(USER_AGENT, "elasticloadbalancing", "AddTags")
    log.add("Boto3/1.0 Botocore/1.0", "elasticloadbalancing", "CreateLoadBalancer")
    monkeypatch.setenv(OPERATIONS_ENV, str(tmp_path))

    saved = log.save()

    assert saved is not None and saved.parent == tmp_path
    assert permissions.read_records(tmp_path) == (
        {("s3", "GetObject"), ("elasticloadbalancing", "AddTags")},
        set(),
    )


def test_a_log_saves_nothing_without_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OPERATIONS_ENV, raising=False)
    log = OperationLog("kubernetes")
    log.add(USER_AGENT, "/pods", "list")

    assert log.save() is None


def test_s3_and_implied_actions_map_to_their_iam_names() -> None:
    used = permissions.iam_actions_used(
        {("s3", "HeadObject"), ("s3", "ListObjectsV2"), ("codedeploy", "CreateDeployment")}
    )

    assert used == {
        "s3:GetObject",
        "s3:ListBucket",
        "codedeploy:CreateDeployment",
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:RegisterApplicationRevision",
    }


def test_compare_finds_what_the_docs_lack_always_and_what_they_grant_unused_on_a_whole_run() -> (
    None
):
    policy = json.loads(permissions.IAM_POLICY.read_text())
    granted = permissions.iam_actions_granted(policy)
    everything = {tuple(a.split(":")) for a in granted}
    extra = {("elasticloadbalancing", "DeleteLoadBalancer")}

    partial = permissions.compare(extra, set(), whole_suite=False)
    whole = permissions.compare(set(), {("/pods", "list")}, whole_suite=True)
    exact = permissions.compare({(s, a) for s, a in everything}, set(), whole_suite=False)

    assert partial.aws_missing == {"elasticloadbalancing:DeleteLoadBalancer"}
    assert partial.aws_unused == set() and partial.kube_unused == set()
    assert whole.aws_unused == granted
    assert ("", "pods", "list") not in whole.kube_unused
    assert whole.kube_missing == set()
    assert exact.aws_missing == set()
    assert partial.lines()[0].startswith("iam-policy.json lacks what the product did")


def _session(args: list[str], root: Path, **options: Any) -> Any:
    from types import SimpleNamespace

    option = SimpleNamespace(keyword=options.get("keyword", ""), markexpr="")
    config = SimpleNamespace(
        args=args,
        rootpath=root,
        option=option,
        getoption=lambda name, default=None: options.get(name, default),
    )
    return SimpleNamespace(config=config, testsfailed=options.get("failed", 0), testscollected=9)


@pytest.mark.parametrize(
    ("args", "options", "whole"),
    [
        (["tests"], {}, True),
        ([], {}, False),
        (["tests/e2e"], {}, False),
        (["tests"], {"keyword": "deploy"}, False),
        (["tests"], {"lf": True}, False),
        (["tests"], {"failed": 1}, False),
    ],
)
def test_unused_grants_are_judged_only_after_a_whole_passing_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    options: dict[str, Any],
    whole: bool,
) -> None:
    from tests.conftest import _whole_suite

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests" / "e2e").mkdir(parents=True)

    assert _whole_suite(_session(args, tmp_path, **options)) is whole
