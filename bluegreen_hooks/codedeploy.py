"""CodeDeploy: start a deployment of a published release, follow it, say why it failed.

CodeDeploy has no watch: `follow` polls GetDeployment and reports each status change. On
failure, the instance targets' lifecycle events name the failing event and carry the tail of
its script output (`diagnostics.logTail`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen_hooks.bundle import BUNDLE_TYPE
from bluegreen_hooks.errors import ConfigError, DeployFailed, LockHeld
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.releases import Release

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codedeploy.type_defs import RevisionLocationTypeDef

SUCCEEDED = "Succeeded"
TERMINAL = frozenset({SUCCEEDED, "Failed", "Stopped"})
POLL_SECONDS = 1.0
NO_AGENT_WARNING_SECONDS = 60.0
TAIL_LINES = 20


@dataclass(frozen=True)
class FailedEvent:
    """One lifecycle event that failed on one instance, as CodeDeploy reports it."""

    target: str
    event: str
    error_code: str | None
    script: str | None
    message: str | None
    log_tail: str | None


@dataclass(frozen=True)
class Outcome:
    deployment_id: str
    status: str
    error: str | None
    failed_events: tuple[FailedEvent, ...] = ()
    group_id: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED


def s3_revision(bucket: str, release: Release) -> RevisionLocationTypeDef:
    location: dict[str, str] = {"bucket": bucket, "key": release.key, "bundleType": BUNDLE_TYPE}
    if release.etag:
        location["eTag"] = release.etag
    return {"revisionType": "S3", "s3Location": location}  # type: ignore[typeddict-item]


def start(
    client: CodeDeployClient, *, application: str, group: str, bucket: str, release: Release
) -> str:
    """CreateDeployment of the release's S3 revision; returns the deployment id."""
    try:
        found = client.create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            revision=s3_revision(bucket, release),
            description=f"bluegreen redeploy {release.commit}",
        )
    except client.exceptions.ApplicationDoesNotExistException:
        raise ConfigError(
            f"CodeDeploy application {application!r} (config key 'application-name') not found",
            hint="create it (aws deploy create-application) or check the region",
        ) from None
    except client.exceptions.DeploymentLimitExceededException as exc:
        raise LockHeld(
            f"{group}: {exc.response.get('Error', {}).get('Message', exc)}",
            hint="wait for it to end (`aws deploy get-deployment --deployment-id ID`),"
            " or stop it (`aws deploy stop-deployment`), then deploy again",
        ) from None
    except client.exceptions.DeploymentGroupDoesNotExistException:
        raise ConfigError(
            f"CodeDeploy deployment group {group!r} (config key 'deployment-group') not found"
            f" in application {application!r}",
            hint="check deployment-group, or create it (aws deploy create-deployment-group)",
        ) from None
    return str(found["deploymentId"])


def follow(
    client: CodeDeployClient, deployment_id: str, *, interval: float = POLL_SECONDS
) -> Outcome:
    """Poll until the deployment ends, logging each status change; then explain a failure."""
    info = _wait_until_ended(client, deployment_id, interval)
    status = str(info["status"])
    if status == SUCCEEDED:
        return Outcome(deployment_id, status, None)
    error = info.get("errorInformation") or {}
    return Outcome(
        deployment_id,
        status,
        ": ".join(str(error[k]) for k in ("code", "message") if error.get(k)) or None,
        tuple(failed_events(client, deployment_id)),
        _group_id(client, str(info.get("applicationName")), str(info.get("deploymentGroupName"))),
    )


def _wait_until_ended(client: CodeDeployClient, deployment_id: str, interval: float) -> Any:
    log = get_logger()
    started, last, warned = time.monotonic(), "Created", False
    while True:
        info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        status = str(info.get("status"))
        if status != last:
            log.info(f"deployment {status}", status=status)
            last = status
        if status in TERMINAL:
            return info
        waited = time.monotonic() - started
        if status == "Created" and not warned and waited > NO_AGENT_WARNING_SECONDS:
            log.warning(
                "deployment not picked up yet: is a CodeDeploy agent running in the group?",
                group=info.get("deploymentGroupName"),
            )
            warned = True
        time.sleep(interval)


def _group_id(client: CodeDeployClient, application: str, group: str) -> str | None:
    """The deployment group's id: the folder the agent keeps its deployments in."""
    try:
        found = client.get_deployment_group(applicationName=application, deploymentGroupName=group)
    except client.exceptions.ClientError:
        return None
    return found["deploymentGroupInfo"].get("deploymentGroupId")


def failed_events(client: CodeDeployClient, deployment_id: str) -> list[FailedEvent]:
    """The failed lifecycle events of every failed instance target (empty if not reported)."""
    found: list[FailedEvent] = []
    try:
        pages = client.get_paginator("list_deployment_targets").paginate(
            deploymentId=deployment_id, targetFilters={"TargetStatus": ["Failed"]}
        )
        target_ids = [t for page in pages for t in page.get("targetIds", [])]
        for target_id in target_ids:
            found += _failed_in(target_id, _instance_target(client, deployment_id, target_id))
    except client.exceptions.ClientError as exc:
        get_logger().warning("could not read the deployment's targets", error=str(exc))
    return found


def _instance_target(client: CodeDeployClient, deployment_id: str, target_id: str) -> Any:
    found = client.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
    return found["deploymentTarget"].get("instanceTarget", {})


def _failed_in(target_id: str, instance: dict[str, Any]) -> list[FailedEvent]:
    events = []
    for event in instance.get("lifecycleEvents", []):
        if event.get("status") != "Failed":
            continue
        diagnostics = event.get("diagnostics") or {}
        events.append(
            FailedEvent(
                target=target_id,
                event=str(event.get("lifecycleEventName")),
                error_code=diagnostics.get("errorCode"),
                script=diagnostics.get("scriptName"),
                message=diagnostics.get("message"),
                log_tail=diagnostics.get("logTail"),
            )
        )
    return events


def readable(line: str, width: int = 300) -> str:
    """A script output line; our hooks' JSON log lines shortened to level, event and fix."""
    stream, _, text = line.partition("]") if line.startswith("[std") else ("", "", line)
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    if isinstance(entry, dict) and "event" in entry:
        text = f"{entry.get('level', 'info')}: {entry['event']}"
        if entry.get("fix"):
            text += f" (fix: {entry['fix']})"
    prefix = f"{stream}] " if stream else ""
    return (prefix + text)[:width]


def failure(outcome: Outcome) -> DeployFailed:
    """One error naming the failing event, its message and the tail of its script output."""
    lines = [f"deployment {outcome.deployment_id} {outcome.status}"]
    for failed in outcome.failed_events:
        lines[0] += f" in {failed.event}" if len(outcome.failed_events) == 1 else ""
        reason = failed.message or failed.error_code or "no details"
        lines.append(f"{failed.event} on {failed.target}: {reason}")
        tail = (failed.log_tail or "").rstrip("\n").splitlines()[-TAIL_LINES:]
        if tail:
            lines.append(f"last lines of its script output ({failed.script or 'script'}):")
            lines += [f"  {readable(line)}" for line in tail]
    if not outcome.failed_events and outcome.error:
        lines.append(outcome.error)
    folder = f"{outcome.group_id or '<group-id>'}/{outcome.deployment_id}"
    return DeployFailed(
        "\n".join(lines),
        hint=f"`oops status` shows where traffic is; the whole output is in {folder}/logs/"
        "scripts.log under the agent's deployment-root (/opt/codedeploy-agent/deployment-root)",
    )
