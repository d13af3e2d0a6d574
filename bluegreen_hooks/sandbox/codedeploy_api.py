"""What moto's CodeDeploy lacks for the emulated agent: instance targets and error information.

moto records deployments but nothing runs them; it answers neither ListDeploymentTargets,
GetDeploymentTarget nor StopDeployment, its GetDeployment always returns an empty
`errorInformation`, and it accepts a second deployment while a group has one active. The
emulated agent (same process as the moto server) keeps its results on moto's deployment
objects through the functions below; `install()` adds the handlers that serve them, so the
product reads them with ordinary boto3 calls over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_TARGETS = "bluegreen_targets"  # attribute on moto's DeploymentInfo: {target id: InstanceTarget}
_ERROR = "bluegreen_error_information"
_STOP = "bluegreen_stop_requested"
_lock = threading.Lock()
_installed = False

ACCOUNT_ID = "123456789012"  # moto's default account


def install() -> None:
    """Teach moto's CodeDeploy responses the calls above (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.codedeploy import responses

        original = responses._deployment_info

        def deployment_info(deployment: Any) -> dict[str, Any]:
            info: dict[str, Any] = original(deployment)
            info["errorInformation"] = getattr(deployment, _ERROR, None) or {}
            return info

        responses._deployment_info = deployment_info
        cls: Any = responses.CodeDeployResponse
        cls.list_deployment_targets = _list_deployment_targets
        cls.get_deployment_target = _get_deployment_target
        cls.batch_get_deployment_targets = _batch_get_deployment_targets
        cls.stop_deployment = _stop_deployment
        cls.create_deployment = _one_at_a_time(cls.create_deployment)
        _installed = True


# --- what the agent calls ---------------------------------------------------------------


def deployment(region: str, deployment_id: str) -> Any:
    """moto's DeploymentInfo object for a deployment id."""
    from moto.codedeploy.models import codedeploy_backends

    return codedeploy_backends[ACCOUNT_ID][region].get_deployment(deployment_id)


def claim(found: Any) -> bool:
    """Move a Created deployment to InProgress; False if someone else already did."""
    with _lock:
        if found.status != "Created":
            return False
        found.status = "InProgress"
        found.start_time = _now()
        found.deployment_overview = {**found.deployment_overview, "InProgress": 1}
        return True


def finish(found: Any, status: str, error: Mapping[str, str] | None = None) -> None:
    """Succeeded or Failed (with CodeDeploy's `errorInformation`)."""
    with _lock:
        _finish(found, status, error)


def _finish(found: Any, status: str, error: Mapping[str, str] | None) -> None:
    if error:
        setattr(found, _ERROR, dict(error))
    found.deployment_overview = {**found.deployment_overview, "InProgress": 0, status: 1}
    found.complete_time = _now()
    found.status = status


def stop_requested(found: Any) -> bool:
    return bool(getattr(found, _STOP, False))


def put_target(found: Any, target: Mapping[str, Any]) -> None:
    """Replace one instance target (a fresh dict each time: readers never see it half-built)."""
    with _lock:
        targets = dict(getattr(found, _TARGETS, {}))
        targets[str(target["targetId"])] = dict(target)
        setattr(found, _TARGETS, targets)


def _now() -> datetime:
    return datetime.now(UTC)


# --- the handlers moto lacks --------------------------------------------------------------


def _targets_of(response: Any) -> dict[str, Any]:
    found = response.codedeploy_backend.get_deployment(response._get_param("deploymentId"))
    return dict(getattr(found, _TARGETS, {}))


def _list_deployment_targets(self: Any) -> Any:
    from moto.core.responses import ActionResult

    targets = _targets_of(self)
    wanted = (self._get_param("targetFilters") or {}).get("TargetStatus")
    ids = [i for i, t in targets.items() if not wanted or t["status"] in wanted]
    return ActionResult({"targetIds": ids})


def _get_deployment_target(self: Any) -> Any:
    from moto.core.responses import ActionResult

    target = _targets_of(self).get(self._get_param("targetId"))
    if target is None:
        raise _target_missing(self._get_param("targetId"))
    return ActionResult({"deploymentTarget": _wrapped(target)})


def _batch_get_deployment_targets(self: Any) -> Any:
    from moto.core.responses import ActionResult

    targets = _targets_of(self)
    wanted = self._get_param("targetIds") or []
    missing = [i for i in wanted if i not in targets]
    if missing:
        raise _target_missing(missing[0])
    return ActionResult({"deploymentTargets": [_wrapped(targets[i]) for i in wanted]})


def _stop_deployment(self: Any) -> Any:
    """Stopped at once if no agent has it yet; else the agent stops after the current event."""
    from moto.core.responses import ActionResult

    found = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
    with _lock:
        if found.status in ("Succeeded", "Failed", "Stopped"):
            return ActionResult({"status": "Succeeded", "statusMessage": "already ended"})
        setattr(found, _STOP, True)
        if found.status != "Created":
            return ActionResult({"status": "Pending", "statusMessage": "stopping"})
        _finish(found, "Stopped", {"code": "MANUAL_STOP", "message": "stopped before it started"})
    return ActionResult({"status": "Succeeded", "statusMessage": "stopped"})


def _one_at_a_time(create: Any) -> Any:
    """As CodeDeploy: no new deployment while the group has an active one."""

    def create_deployment(self: Any) -> Any:
        from moto.codedeploy.exceptions import CodeDeployException

        wanted = (self._get_param("applicationName"), self._get_param("deploymentGroupName"))
        group = wanted[1]
        for found in list(self.codedeploy_backend.deployments.values()):
            same_group = (found.application_name, found.deployment_group_name) == wanted
            if same_group and found.status in ("Created", "Queued", "InProgress"):
                raise CodeDeployException(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group}' already has an active Deployment"
                    f" '{found.deployment_id}'",
                )
        return create(self)

    return create_deployment


def _wrapped(target: dict[str, Any]) -> dict[str, Any]:
    return {"deploymentTargetType": "InstanceTarget", "instanceTarget": target}


def _target_missing(target_id: str) -> Exception:
    from moto.codedeploy.exceptions import CodeDeployException

    return CodeDeployException(
        "DeploymentTargetDoesNotExistException", f"The target {target_id} does not exist."
    )
