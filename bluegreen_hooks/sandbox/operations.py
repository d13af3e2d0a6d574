"""What each emulator was asked, and by whom: AWS service + action, Kubernetes verb + resource.

A request is the product's when its User-Agent names bluegreen-hooks (`identity.py`: the boto3
clients of a bluegreen command and the Kubernetes client from `kube.connect` do); anything else
(a test setting the scene, the sandbox itself) is "other". With $BLUEGREEN_SANDBOX_OPERATIONS
set to a folder, an emulator writes what it served there when it stops; the test suite compares
the product's operations with docs/iam-policy.json and docs/rbac.yaml.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

OPERATIONS_ENV = "BLUEGREEN_SANDBOX_OPERATIONS"
PRODUCT, OTHER = "product", "other"
PRODUCT_MARK = "bluegreen-hooks"

# (caller, api, operation): ("product", "elasticloadbalancing", "DescribeLoadBalancers"),
# ("product", "coordination.k8s.io/leases", "update"); the core Kubernetes group is "".
Operation = tuple[str, str, str]

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]*/\d{8}/[^/]*/([^/]+)/aws4_request")


class OperationLog:
    """A thread-safe tally of operations, saved to $BLUEGREEN_SANDBOX_OPERATIONS on request."""

    def __init__(self, emulator: str) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()
        self._counts: Counter[Operation] = Counter()

    def add(self, user_agent: str, api: str, operation: str) -> None:
        caller = PRODUCT if PRODUCT_MARK in user_agent else OTHER
        with self._lock:
            self._counts[(caller, api, operation)] += 1

    def counts(self) -> Counter[Operation]:
        with self._lock:
            return Counter(self._counts)

    def of_product(self) -> set[tuple[str, str]]:
        return {(api, op) for caller, api, op in self.counts() if caller == PRODUCT}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def save(self) -> Path | None:
        """Write the tally as JSON into $BLUEGREEN_SANDBOX_OPERATIONS (when set)."""
        folder = os.environ.get(OPERATIONS_ENV)
        counts = self.counts()
        if not folder or not counts:
            return None
        path = Path(folder) / f"{self.emulator}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        rows = [[caller, api, op, n] for (caller, api, op), n in sorted(counts.items())]
        path.write_text(json.dumps({"emulator": self.emulator, "operations": rows}))
        return path


def aws_action(environ: dict[str, Any]) -> str:
    """The AWS action of a request: query protocol (ELB, IAM) from the query or the form body,
    JSON protocol from X-Amz-Target, else `METHOD /path` (REST protocols)."""
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if "Action" in query:
        return query["Action"][0]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length and str(environ.get("CONTENT_TYPE", "")).startswith(
        "application/x-www-form-urlencoded"
    ):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return str(form["Action"][0])
    return f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"


def aws_service(environ: dict[str, Any]) -> str:
    """The signing name of a request, from its SigV4 credential scope."""
    scope = _CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return scope.group(1) if scope else "unsigned"


def aws_operation(environ: dict[str, Any], action: str) -> tuple[str, str]:
    """(service, action) of a request to moto; `action` is what `aws_action` found."""
    service = aws_service(environ)
    if service == "s3":
        return service, _s3_action(environ)
    return service, action


def _s3_action(environ: dict[str, Any]) -> str:
    """The S3 REST operation of a path-style request (the sandbox's endpoint is an IP)."""
    method = str(environ.get("REQUEST_METHOD", "GET"))
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    bucket, _, key = str(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
    if not bucket:
        return "ListBuckets"
    if not key:
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        by_method = {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}
        return by_method.get(method, f"{method} bucket")
    if method == "PUT":
        if "uploadId" in query:
            return "UploadPart"
        return "CopyObject" if "HTTP_X_AMZ_COPY_SOURCE" in environ else "PutObject"
    if method == "POST":
        return "CompleteMultipartUpload" if "uploadId" in query else "CreateMultipartUpload"
    by_method = {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
    return by_method.get(method, f"{method} object")


def kube_operation(method: str, path: str, watching: bool) -> tuple[str, str]:
    """("group/resource[/subresource]", verb) as RBAC names them; other paths as nonResourceURLs."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return f"nonResourceURL:{path}", method.lower()
    if not rest:
        return f"nonResourceURL:{path}", method.lower()
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2:3]
    verb = {
        "GET": "watch" if watching else ("get" if name else "list"),
        "HEAD": "get",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(method, method.lower())
    return f"{group}/{'/'.join([resource, *sub])}", verb
