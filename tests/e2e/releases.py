"""What release tests add to an App: a bucket, a CodeDeploy application and group, a preview
ELB, the emulated agent, and `oops` run as a user would."""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.scenario import create_load_balancer
from tests import cli_runs
from tests.e2e.world import App

GROUP = "master"
SERVICE_ROLE = "arn:aws:iam::123456789012:role/codedeploy"


def bucket_of(app: App) -> str:
    return f"bucket-{app.name}"


def preview_of(app: App) -> str:
    return f"preview-{app.name}"


def s3() -> Any:
    return boto3.client("s3")


def codedeploy() -> Any:
    return boto3.client("codedeploy")


@contextmanager
def agent_running(sandbox: Sandbox) -> Iterator[None]:
    """The emulated agent for one test only (its polling would otherwise show in other
    tests' request counts)."""
    sandbox.start_agent()
    try:
        yield
    finally:
        sandbox.stop_agent()


def publishable(app: App) -> App:
    """Give the app a bucket, a CodeDeploy application and group, and a preview ELB."""
    s3().create_bucket(
        Bucket=bucket_of(app),
        CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]},
    )
    codedeploy().create_application(applicationName=app.name, computePlatform="Server")
    codedeploy().create_deployment_group(
        applicationName=app.name, deploymentGroupName=GROUP, serviceRoleArn=SERVICE_ROLE
    )
    # The preview ELB starts on neither color's port, as a freshly made one would.
    create_load_balancer(
        preview_of(app), blue=app.blue + 50, green=app.green + 50, certificate=app.certificate
    )
    app.settings(
        **{
            "s3-bucket": bucket_of(app),
            "deployment-group": GROUP,
            "preview-elb-name": preview_of(app),
        }
    )
    return app


def oops(
    app: App, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The `oops` console script (as `python -m`), in the app's folder, JSON logs on stderr."""
    return cli_runs.run(
        "bluegreen_hooks.oops",
        *argv,
        "--config",
        str(app.config),
        cwd=app.folder,
        env={**os.environ, **(env or {})},
        timeout=180,
    )


def publish(app: App, commit: str, *, env: dict[str, str] | None = None) -> str:
    result = app.bluegreen(
        "bundle",
        "--commit",
        commit,
        "--upload",
        "--out",
        str(app.folder.parent / "dist"),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def stored_bundle(app: App, key: str) -> zipfile.ZipFile:
    body = s3().get_object(Bucket=bucket_of(app), Key=key)["Body"].read()
    return zipfile.ZipFile(BytesIO(body))


def deployment(deployment_id: str) -> dict[str, Any]:
    info: dict[str, Any] = codedeploy().get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    return info


def wait_for_end(deployment_id: str, deadline_seconds: float = 120) -> dict[str, Any]:
    """Poll GetDeployment (CodeDeploy has no watch) until it ends, within a deadline."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        info = deployment(deployment_id)
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            return info
        assert time.monotonic() < deadline, f"deployment still {info['status']}"
        time.sleep(0.1)


def lifecycle_events(deployment_id: str) -> dict[str, dict[str, Any]]:
    """The events of the deployment's one instance target, read back through the API."""
    client = codedeploy()
    targets = client.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    assert len(targets) == 1, targets
    found = client.get_deployment_target(deploymentId=deployment_id, targetId=targets[0])
    events = found["deploymentTarget"]["instanceTarget"]["lifecycleEvents"]
    return {e["lifecycleEventName"]: e for e in events}


def scripts_log(app: App, deployment_id: str) -> Path:
    agent = app.sandbox.agent
    assert agent is not None
    group = codedeploy().get_deployment_group(applicationName=app.name, deploymentGroupName=GROUP)
    group_id = str(group["deploymentGroupInfo"]["deploymentGroupId"])
    return agent.deployment_root / group_id / deployment_id / "logs" / "scripts.log"
