"""boto3 clients for S3 and CodeDeploy, with the project's retry policy (`aws_clients`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bluegreen_hooks.aws_clients import make_client
from bluegreen_hooks.config import Config

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_s3 import S3Client


def s3(config: Config) -> S3Client:
    client: S3Client = make_client("s3", config.region)
    return client


def codedeploy(config: Config) -> CodeDeployClient:
    client: CodeDeployClient = make_client("codedeploy", config.region)
    return client
