"""Least privilege, checked: what the product asked of the emulators against what the docs grant.

The emulators tally every request by caller (`bluegreen_hooks/sandbox/operations.py`); with
$BLUEGREEN_SANDBOX_OPERATIONS set they save the tally when they stop. At the end of a session
`compare()` reads every saved tally and checks docs/iam-policy.json and docs/rbac.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bluegreen_hooks.sandbox.operations import PRODUCT

REPO = Path(__file__).resolve().parents[1]
IAM_POLICY = REPO / "docs" / "iam-policy.json"
RBAC = REPO / "docs" / "rbac.yaml"

# API operations whose IAM action has another name (S3 authorises reads and lists coarsely).
IAM_ACTION_OF = {
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    # CloudWatch's API answers at monitoring.<region>.amazonaws.com; its IAM prefix is cloudwatch.
    ("monitoring", "DescribeAlarms"): ("cloudwatch:DescribeAlarms",),
}
# Permissions AWS checks on the caller for an operation without a request of their own
# (e.g. codedeploy:CreateDeployment also authorises the revision and the deployment config).
IMPLIED_BY = {
    "codedeploy:CreateDeployment": (
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:RegisterApplicationRevision",
    ),
}

KubeGrant = tuple[str, str, str]  # (api group, resource, verb); the core group is ""

# Grants the product needs on a real cluster that the emulator never makes it use: it deletes
# at once, so waiting for a Service or the pods to go (`Cluster._wait_until_empty`) ends with
# the first list, before any watch. Keep this list short and say why for each entry.
REAL_CLUSTER_ONLY: set[KubeGrant] = {("", "services", "watch"), ("", "pods", "watch")}


@dataclass
class Findings:
    aws_missing: set[str] = field(default_factory=set)
    aws_unused: set[str] = field(default_factory=set)
    kube_missing: set[KubeGrant] = field(default_factory=set)
    kube_unused: set[KubeGrant] = field(default_factory=set)

    def lines(self) -> list[str]:
        out = []
        if self.aws_missing:
            out.append(f"{IAM_POLICY.name} lacks what the product did: {sorted(self.aws_missing)}")
        if self.aws_unused:
            out.append(f"{IAM_POLICY.name} grants what no test used: {sorted(self.aws_unused)}")
        if self.kube_missing:
            out.append(f"{RBAC.name} lacks what the product did: {_kube(self.kube_missing)}")
        if self.kube_unused:
            out.append(f"{RBAC.name} grants what no test used: {_kube(self.kube_unused)}")
        return out


def _kube(grants: set[KubeGrant]) -> list[str]:
    return [f"{verb} {group or 'core'}/{resource}" for group, resource, verb in sorted(grants)]


def read_records(folder: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The product's (service, action) AWS operations and (group/resource, verb) Kubernetes ones."""
    aws: set[tuple[str, str]] = set()
    kube: set[tuple[str, str]] = set()
    for path in sorted(folder.glob("*.json")):
        record: dict[str, Any] = json.loads(path.read_text())
        target = aws if record["emulator"] == "aws" else kube
        target.update(
            (api, op) for caller, api, op, _n in record["operations"] if caller == PRODUCT
        )
    return aws, kube


def iam_actions_used(operations: Iterable[tuple[str, str]]) -> set[str]:
    used: set[str] = set()
    for service, action in operations:
        names = IAM_ACTION_OF.get((service, action), (f"{service}:{action}",))
        for name in names:
            used.add(name)
            used.update(IMPLIED_BY.get(name, ()))
    return used


def iam_actions_granted(policy: dict[str, Any]) -> set[str]:
    granted: set[str] = set()
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    return granted


def kube_grants_used(operations: Iterable[tuple[str, str]]) -> set[KubeGrant]:
    used: set[KubeGrant] = set()
    for api, verb in operations:
        group, _, resource = api.partition("/")
        used.add((group, resource, verb))
    return used


def kube_grants_granted(documents: Iterable[Any]) -> set[KubeGrant]:
    granted: set[KubeGrant] = set()
    for document in documents:
        if not document or document.get("kind") not in ("Role", "ClusterRole"):
            continue
        for rule in document.get("rules") or []:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    granted.update((group, resource, verb) for verb in rule.get("verbs") or [])
    return granted


def compare(
    aws: set[tuple[str, str]], kube: set[tuple[str, str]], *, whole_suite: bool
) -> Findings:
    """What the docs lack (always a failure); what they grant unused (only after every test)."""
    policy = json.loads(IAM_POLICY.read_text())
    with RBAC.open() as handle:
        rbac = list(yaml.safe_load_all(handle))
    aws_used, aws_granted = iam_actions_used(aws), iam_actions_granted(policy)
    kube_used, kube_granted = kube_grants_used(kube), kube_grants_granted(rbac)
    findings = Findings(aws_missing=aws_used - aws_granted, kube_missing=kube_used - kube_granted)
    if whole_suite:
        findings.aws_unused = aws_granted - aws_used
        findings.kube_unused = kube_granted - kube_used - REAL_CLUSTER_ONLY
    return findings
