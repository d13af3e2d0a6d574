"""The one place AWS clients are made: region, timeouts and the retry policy.

botocore's `standard` retry mode retries throttling (`Throttling`, `RequestLimitExceeded`, ...),
5xx answers and connection errors with exponential backoff and jitter, bounded by
MAX_ATTEMPTS in all (the first attempt included) and by a retry quota shared by the client.
Permanent errors (AccessDenied, a missing load balancer) are not retried. An operator's own
AWS_RETRY_MODE or AWS_MAX_ATTEMPTS (environment or profile) wins over these defaults.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from botocore.config import _RetryDict

RETRY_MODE: Literal["standard"] = "standard"
MAX_ATTEMPTS = 8
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30


def make_client(service_name: str, region: str | None) -> Any:
    """A boto3 client for `service_name` with the project's retry policy (honours
    AWS_ENDPOINT_URL, profiles and the default region like any boto3 client)."""
    import boto3
    from botocore.config import Config

    settings = Config(
        retries=_retries(),
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    return boto3.client(service_name, region_name=region, config=settings)  # type: ignore[call-overload]


def _retries() -> _RetryDict:
    """Our retry defaults, leaving out what the operator set (botocore reads and checks it)."""
    retries: _RetryDict = {}
    if "AWS_RETRY_MODE" not in os.environ:
        retries["mode"] = RETRY_MODE
    if "AWS_MAX_ATTEMPTS" not in os.environ:
        retries["total_max_attempts"] = MAX_ATTEMPTS
    return retries
