"""An emulated CodeDeploy agent: runs the sandbox's deployments as the real agent would.

It polls the emulated CodeDeploy (boto3 over HTTP) for new deployments, downloads each S3
revision, unpacks it to `<deployment-root>/<group-id>/<deployment-id>/deployment-archive`,
and runs the appspec's hooks in lifecycle order: each script in its own process group with
the real agent's environment (`LIFECYCLE_EVENT`, `DEPLOYMENT_ID`, `APPLICATION_NAME`,
`DEPLOYMENT_GROUP_NAME`, `DEPLOYMENT_GROUP_ID`, `BUNDLE_BUCKET`, `BUNDLE_KEY`,
`BUNDLE_VERSION`, `BUNDLE_ETAG`), killed (SIGTERM to the group) after its `timeout`, its
output appended to `logs/scripts.log` in the agent's format. moto has no API for an agent to
report results, so they go onto moto's objects in-process (`codedeploy_api`) and are read
back through GetDeployment, ListDeploymentTargets and GetDeploymentTarget.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bluegreen_hooks.sandbox import codedeploy_api

# The lifecycle of an in-place deployment without a load balancer, in the agent's order.
LIFECYCLE = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)
SCRIPT_EVENTS = frozenset(LIFECYCLE) - {"DownloadBundle", "Install"}
DEFAULT_TIMEOUT = 3600  # the agent's default for a script without `timeout`
LOG_TAIL_CHARS = 2048  # the agent keeps about this much of an event's output for diagnostics
ARCHIVES_TO_RETAIN = 5
KILL_GRACE = 5.0  # after SIGTERM to a timed-out script's group, SIGKILL (the agent stops there)
# The agent's requests are never counted as the product's, whatever else runs in this process
# (its own app id wins over AWS_SDK_UA_APP_ID; botocore's stubs predate the setting).
_NOT_THE_PRODUCT: dict[str, Any] = {"user_agent_appid": "sandbox-codedeploy-agent"}
HEALTH_CONSTRAINTS = {
    "code": "HEALTH_CONSTRAINTS",
    "message": "The overall deployment failed because too many individual instances failed"
    " deployment, too few healthy instances are available for deployment, or some instances"
    " in your deployment group are experiencing problems.",
}


MANUAL_STOP = {"code": "MANUAL_STOP", "message": "The deployment was stopped by a user."}


class EventFailed(Exception):
    """A lifecycle event failed; carries CodeDeploy's diagnostics."""

    def __init__(self, error_code: str, message: str, script: str = "", log_tail: str = ""):
        super().__init__(message)
        self.diagnostics = {
            "errorCode": error_code,
            "scriptName": script,
            "message": message,
            "logTail": log_tail,
        }


@dataclass
class ScriptLog:
    """One event's output: appended to scripts.log, the recent part kept for `logTail`."""

    path: Path
    recent: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, message: str) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} {message}")
            self.recent.append(message)
            while len(self.recent) > 1 and sum(map(len, self.recent)) > LOG_TAIL_CHARS:
                self.recent.pop(0)

    @property
    def tail(self) -> str:
        return "".join(self.recent)[-LOG_TAIL_CHARS:]


@dataclass
class Deployment:
    """What the agent knows about one deployment it runs."""

    deployment_id: str
    application: str
    group: str
    group_id: str
    bucket: str
    key: str
    version: str | None
    etag: str | None
    root: Path

    @property
    def archive(self) -> Path:
        return self.root / "deployment-archive"

    def env(self, event: str) -> dict[str, str]:
        return {
            "LIFECYCLE_EVENT": event,
            "DEPLOYMENT_ID": self.deployment_id,
            "APPLICATION_NAME": self.application,
            "DEPLOYMENT_GROUP_NAME": self.group,
            "DEPLOYMENT_GROUP_ID": self.group_id,
            "BUNDLE_BUCKET": self.bucket,
            "BUNDLE_KEY": self.key,
            "BUNDLE_VERSION": self.version or "",
            "BUNDLE_ETAG": self.etag or "",
        }


class CodeDeployAgent:
    """A thread that runs every new deployment of the emulated CodeDeploy, one at a time."""

    def __init__(
        self,
        root: Path,
        *,
        aws_env: Mapping[str, str],
        script_env: Mapping[str, str],
        poll_interval: float = 0.2,
        instance_id: str = "i-0sandbox0agent01",
    ) -> None:
        self.deployment_root = root
        self.region = aws_env["AWS_DEFAULT_REGION"]
        self._aws_env = dict(aws_env)
        self._script_env = dict(script_env)
        self._poll_interval = poll_interval
        self.instance_id = instance_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: subprocess.Popen[bytes] | None = None
        self._clients: dict[str, Any] = {}

    # --- lifecycle of the agent itself ---------------------------------------------------

    def start(self) -> None:
        codedeploy_api.install()
        self.deployment_root.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="codedeploy-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        running = self._running
        if running is not None and running.poll() is None:
            _kill_group(running, signal.SIGKILL)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            # Its own session: boto3's default one is not safe to share across threads.
            make: Any = boto3.session.Session().client
            self._clients[service] = make(
                service,
                region_name=self.region,
                endpoint_url=self._aws_env["AWS_ENDPOINT_URL"],
                aws_access_key_id=self._aws_env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=self._aws_env["AWS_SECRET_ACCESS_KEY"],
                config=Config(**_NOT_THE_PRODUCT),
            )
        return self._clients[service]

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_interval):
            try:
                created = self._client("codedeploy").list_deployments(
                    includeOnlyStatuses=["Created"]
                )["deployments"]
            except Exception:
                continue  # the server is stopping, or not up yet: poll again
            for deployment_id in created:
                if self._stop.is_set():
                    return
                try:
                    self._run(deployment_id)
                except Exception:  # a bug here must not stop the agent taking deployments
                    logging.getLogger(__name__).exception("agent failed on %s", deployment_id)

    # --- one deployment ------------------------------------------------------------------

    def _run(self, deployment_id: str) -> None:
        record = codedeploy_api.deployment(self.region, deployment_id)
        if not codedeploy_api.claim(record):
            return
        target = _Target(deployment_id, self.instance_id, self.region, record)
        try:
            deployment = self._describe(deployment_id)
        except Exception as exc:
            target.fail_all("DownloadBundle", EventFailed("UnknownError", str(exc)))
            codedeploy_api.finish(record, "Failed", HEALTH_CONSTRAINTS)
            return
        for event in LIFECYCLE:
            if codedeploy_api.stop_requested(record):
                target.skip_from(event)
                codedeploy_api.finish(record, "Stopped", MANUAL_STOP)
                return
            target.begin(event)
            try:
                self._event(deployment, event)
            except Exception as exc:  # any other error is the agent's: UnknownError
                failed = exc if isinstance(exc, EventFailed) else _unknown(exc)
                target.fail_all(event, failed)
                codedeploy_api.finish(record, "Failed", HEALTH_CONSTRAINTS)
                return
            target.succeed(event)
        self._remember_success(deployment)
        target.done("Succeeded")
        codedeploy_api.finish(record, "Succeeded")

    def _describe(self, deployment_id: str) -> Deployment:
        client = self._client("codedeploy")
        info = client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        group = client.get_deployment_group(
            applicationName=info["applicationName"],
            deploymentGroupName=info["deploymentGroupName"],
        )["deploymentGroupInfo"]
        location = info["revision"].get("s3Location") or {}
        return Deployment(
            deployment_id=deployment_id,
            application=info["applicationName"],
            group=info["deploymentGroupName"],
            group_id=group["deploymentGroupId"],
            bucket=location.get("bucket", ""),
            key=location.get("key", ""),
            version=location.get("version"),
            etag=location.get("eTag"),
            root=self.deployment_root / group["deploymentGroupId"] / deployment_id,
        )

    def _event(self, deployment: Deployment, event: str) -> None:
        if event == "DownloadBundle":
            self._download(deployment)
        elif event == "ApplicationStop":
            previous = self._last_success(deployment.group_id)
            if previous is not None:  # the agent stops the last revision that succeeded
                self._hooks(deployment, event, previous / "deployment-archive")
        elif event in SCRIPT_EVENTS:
            self._hooks(deployment, event, deployment.archive)

    # --- DownloadBundle ------------------------------------------------------------------

    def _download(self, deployment: Deployment) -> None:
        if not deployment.key:
            raise EventFailed("UnknownError", "only S3 revisions are supported by this agent")
        deployment.root.mkdir(parents=True, exist_ok=True)
        request: dict[str, str] = {"Bucket": deployment.bucket, "Key": deployment.key}
        if deployment.version:
            request["VersionId"] = deployment.version
        try:
            found = self._client("s3").get_object(**request)
        except Exception as exc:
            raise EventFailed("UnknownError", f"could not download the bundle: {exc}") from exc
        etag = str(found.get("ETag", "")).strip('"')
        if deployment.etag and deployment.etag.strip('"') != etag:
            raise EventFailed(
                "UnknownError",
                f"Expected deployment artifact bundle etag {deployment.etag} but was actually"
                f" {etag}",
            )
        bundle = deployment.root / "bundle.tar"  # the agent's name, whatever the type
        bundle.write_bytes(found["Body"].read())
        shutil.rmtree(deployment.archive, ignore_errors=True)
        try:
            _unzip(bundle, deployment.archive)
        except zipfile.BadZipFile as exc:
            raise EventFailed("UnknownError", f"the bundle is not a zip: {exc}") from exc
        self._cleanup_old_archives(deployment)

    def _cleanup_old_archives(self, deployment: Deployment) -> None:
        group = deployment.root.parent
        older = sorted(
            (p for p in group.iterdir() if p.is_dir() and p != deployment.root),
            key=lambda p: p.stat().st_mtime,
        )
        for stale in older[: max(0, len(older) + 1 - ARCHIVES_TO_RETAIN)]:
            shutil.rmtree(stale, ignore_errors=True)

    def _instructions(self, group_id: str) -> Path:
        instructions = self.deployment_root / "deployment-instructions"
        return instructions / f"{group_id}_last_successful_install"

    def _remember_success(self, deployment: Deployment) -> None:
        path = self._instructions(deployment.group_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(deployment.root), encoding="utf-8")

    def _last_success(self, group_id: str) -> Path | None:
        path = self._instructions(group_id)
        if not path.is_file():
            return None
        root = Path(path.read_text(encoding="utf-8").strip())
        return root if (root / "deployment-archive").is_dir() else None

    # --- hooks ---------------------------------------------------------------------------

    def _hooks(self, deployment: Deployment, event: str, archive: Path) -> None:
        scripts = _appspec_hooks(archive).get(event) or []
        if not scripts:
            return
        log = ScriptLog(deployment.root / "logs" / "scripts.log")
        log.write(f"LifecycleEvent - {event}\n")
        for script in scripts:
            self._script(deployment, event, archive, script, log)

    def _script(
        self,
        deployment: Deployment,
        event: str,
        archive: Path,
        script: Mapping[str, Any],
        log: ScriptLog,
    ) -> None:
        location = str(script.get("location", ""))
        timeout = int(script.get("timeout") or DEFAULT_TIMEOUT)
        path = archive / location
        if not path.is_file():
            raise EventFailed(
                "ScriptMissing",
                f"Script does not exist at specified location: {path}",
                location,
                log.tail,
            )
        if not os.access(path, os.X_OK):
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        log.write(f"Script - {location}\n")
        env = {**_inherited_env(), **self._script_env, **deployment.env(event)}
        process = subprocess.Popen(
            [str(path)],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole on timeout
        )
        self._running = process
        deadline = time.monotonic() + timeout  # one for the script and its output, as the agent
        readers = [
            _reader(process.stdout, "[stdout]", log),
            _reader(process.stderr, "[stderr]", log),
        ]
        try:
            code = self._wait(process, deadline)
        finally:
            self._running = None
        if code is None:
            _kill_group(process, signal.SIGTERM)
            try:
                process.wait(KILL_GRACE)
            except subprocess.TimeoutExpired:
                _kill_group(process, signal.SIGKILL)
                process.wait()
            _join(readers, KILL_GRACE)
            raise EventFailed(
                "ScriptTimedOut",
                f"Script at specified location: {location} failed to complete in {timeout} seconds",
                location,
                log.tail,
            )
        _join(readers, max(0.0, deadline - time.monotonic()))
        if any(reader.is_alive() for reader in readers):  # a child still holds the output
            _kill_group(process, signal.SIGKILL)
            raise EventFailed(
                "UnknownError",
                f"Script at specified location: {location} failed to close STDOUT",
                location,
                log.tail,
            )
        if code != 0:
            raise EventFailed(
                "ScriptFailed",
                f"Script at specified location: {location} failed with exit code {code}",
                location,
                log.tail,
            )

    def _wait(self, process: subprocess.Popen[bytes], deadline: float) -> int | None:
        """The exit code, or None at the deadline (or when the agent is stopping)."""
        while not self._stop.is_set():
            try:
                return process.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    return None
        return None


class _Target:
    """The instance target of one deployment, published after every change."""

    def __init__(self, deployment_id: str, target_id: str, region: str, record: Any) -> None:
        self._record = record
        self._events: dict[str, dict[str, Any]] = {
            n: {"lifecycleEventName": n, "status": "Pending"} for n in LIFECYCLE
        }
        self._base = {
            "deploymentId": deployment_id,
            "targetId": target_id,
            "targetArn": f"arn:aws:ec2:{region}:{codedeploy_api.ACCOUNT_ID}:instance/{target_id}",
        }
        self._publish("InProgress")

    def begin(self, event: str) -> None:
        self._events[event].update(status="InProgress", startTime=_now())
        self._publish("InProgress")

    def succeed(self, event: str) -> None:
        self._events[event].update(
            status="Succeeded",
            endTime=_now(),
            diagnostics={
                "errorCode": "Success",
                "scriptName": "",
                "message": "Succeeded",
                "logTail": "",
            },
        )
        self._publish("InProgress")

    def skip_from(self, event: str) -> None:
        """A stop was asked for: this event and every later one Skipped."""
        for name in LIFECYCLE[LIFECYCLE.index(event) :]:
            self._events[name]["status"] = "Skipped"
        self.done("Skipped")

    def fail_all(self, event: str, failed: EventFailed) -> None:
        """This event Failed; every later one Skipped; the target Failed."""
        self._events[event].update(status="Failed", endTime=_now(), diagnostics=failed.diagnostics)
        later = LIFECYCLE[LIFECYCLE.index(event) + 1 :]
        for name in later:
            self._events[name]["status"] = "Skipped"
        self.done("Failed")

    def done(self, status: str) -> None:
        self._publish(status)

    def _publish(self, status: str) -> None:
        codedeploy_api.put_target(
            self._record,
            {
                **self._base,
                "status": status,
                "lastUpdatedAt": _now(),
                "lifecycleEvents": [dict(e) for e in self._events.values()],
            },
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _unknown(exc: Exception) -> EventFailed:
    return EventFailed("UnknownError", f"{type(exc).__name__}: {exc}")


def _inherited_env() -> dict[str, str]:
    """The agent's own environment, without deployment input a hook would take for its own,
    and without AWS settings (the sandbox's come on top: a real profile must not leak in)."""
    dropped = ("BLUEGREEN_", "BUNDLE_", "AWS_")
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(dropped) and k not in ("DEPLOYMENT_ID", "LIFECYCLE_EVENT")
    }


def _appspec_hooks(archive: Path) -> dict[str, list[dict[str, Any]]]:
    import yaml

    path = archive / "appspec.yml"
    if not path.is_file():
        raise EventFailed(
            "UnknownError",
            "The CodeDeploy agent did not find an AppSpec file within the unpacked revision"
            f' directory at revision-relative path "appspec.yml" (unpacked to {archive})',
        )
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise EventFailed("UnknownError", f"appspec.yml is not valid YAML: {exc}") from exc
    hooks = spec.get("hooks") or {}
    return {str(k): list(v or []) for k, v in hooks.items()}


def _unzip(bundle: Path, destination: Path) -> None:
    """Extract keeping each entry's mode (zipfile drops it); strip a lone top folder."""
    destination.mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            extracted = Path(archive.extract(info, destination))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                extracted.chmod(mode)
    entries = list(destination.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "appspec.yml").is_file():
        nested = entries[0].rename(destination.parent / "deployment-archive-temp")
        destination.rmdir()
        nested.rename(destination)


def _reader(stream: IO[bytes] | None, prefix: str, log: ScriptLog) -> threading.Thread:
    def read() -> None:
        assert stream is not None
        for line in iter(stream.readline, b""):
            log.write(prefix + line.decode("utf-8", "replace"))
        stream.close()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _join(threads: list[threading.Thread], timeout: float) -> None:
    for thread in threads:
        thread.join(timeout)


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
