"""boto3 clients for S3 and CodeDeploy, made in one place (region from the config)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bluegreen_hooks.config import Config

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_s3 import S3Client
else:
    CodeDeployClient = S3Client = Any


def s3(config: Config) -> S3Client:
    import boto3

    return boto3.client("s3", region_name=config.region)


def codedeploy(config: Config) -> CodeDeployClient:
    import boto3

    return boto3.client("codedeploy", region_name=config.region)
