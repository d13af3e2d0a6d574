"""How the product names itself to AWS and Kubernetes, so that audit logs (CloudTrail's
userAgent, the API server's audit log) and the sandbox tell its requests from anyone else's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from bluegreen_hooks import __version__

USER_AGENT = f"bluegreen-hooks/{__version__}"
AWS_APP_ID_ENV = "AWS_SDK_UA_APP_ID"  # botocore adds `app/<id>` to every request's User-Agent


@contextmanager
def named_to_aws() -> Iterator[None]:
    """While a command runs, every boto3 client it creates says it is bluegreen-hooks."""
    saved = os.environ.get(AWS_APP_ID_ENV)
    os.environ[AWS_APP_ID_ENV] = USER_AGENT
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(AWS_APP_ID_ENV, None)
        else:
            os.environ[AWS_APP_ID_ENV] = saved
