"""Thin kubernetes-client wrapper: services, workloads, readiness via watch, and the deploy lock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from bluegreen_hooks.colors import Color
from bluegreen_hooks.errors import DeployFailed, LockHeld, TemplateError, UsageError
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.templates import (
    ANNOTATION_HASH,
    LABEL_APPLICATION,
    LABEL_COLOR,
    LABEL_COMMIT,
    Manifest,
)

_MODELS = {"Service": "V1Service", "ReplicationController": "V1ReplicationController"}
_MODELS["Deployment"] = "V1Deployment"


@dataclass(frozen=True)
class Readiness:
    """How many replicas of a color's workloads are Ready, out of how many wanted."""

    ready: int
    desired: int
    settled: bool

    @property
    def complete(self) -> bool:
        return self.settled and self.desired > 0 and self.ready >= self.desired


def connect() -> client.ApiClient:
    """An API client from KUBECONFIG (or ~/.kube/config), else the in-cluster service account."""
    loader: Any = config
    try:
        api_client: client.ApiClient = loader.new_client_from_config()
        return api_client
    except (ConfigException, OSError) as kubeconfig_error:
        try:
            loader.load_incluster_config()
        except ConfigException:
            raise UsageError(
                f"cannot load Kubernetes credentials: {kubeconfig_error}",
                hint="set KUBECONFIG to a kubeconfig for the cluster (or run inside it)",
            ) from kubeconfig_error
        return client.ApiClient()


def describe_api_error(exc: ApiException) -> str:
    """The server's own message from a Status body, else the HTTP reason."""
    import json

    try:
        status = json.loads(exc.body or "{}")
        return f"{status.get('reason', exc.reason)}: {status.get('message', '')}".strip()
    except ValueError:
        return f"HTTP {exc.status} {exc.reason}"


def validate_manifests(manifests: tuple[Manifest, ...]) -> None:
    """Check rendered objects against the client's schema before anything is sent."""
    from pydantic import ValidationError

    for manifest in manifests:
        model = getattr(client, _MODELS[manifest["kind"]])
        try:
            model.model_validate(manifest)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise TemplateError(
                f"{manifest['kind']} {manifest['metadata']['name']}: {where}: {first['msg']}"
            ) from exc


class Cluster:
    """One namespace of one cluster, seen through the official client."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        # The generated models make every field Optional; we read them as plain data.
        self.core: Any = client.CoreV1Api(api_client)
        self.apps: Any = client.AppsV1Api(api_client)
        self.coordination: Any = client.CoordinationV1Api(api_client)

    def check_namespace(self) -> None:
        """Preflight: the API answers and the namespace exists."""
        try:
            self.core.read_namespace(self.namespace, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 404:
                raise UsageError(
                    f"namespace {self.namespace!r} does not exist",
                    hint=f"kubectl create namespace {self.namespace}, or fix 'namespace'",
                ) from exc
            raise DeployFailed(f"Kubernetes API refused: {describe_api_error(exc)}") from exc
        except Exception as exc:  # urllib3 connection errors and the like
            raise DeployFailed(
                f"Kubernetes API not reachable: {exc}",
                hint="check KUBECONFIG and that the API server answers",
            ) from exc

    # --- services -------------------------------------------------------------

    def apply_services(
        self, services: tuple[Manifest, ...], application: str, color: Color
    ) -> bool:
        """Recreate the color's Services unless they already match; drop stale ones."""
        wanted = {s["metadata"]["name"]: s for s in services}
        existing = self.core.list_namespaced_service(
            self.namespace, label_selector=_selector(application, color)
        ).items
        changed = False
        for service in existing:
            name = service.metadata.name
            if name not in wanted or _hash(service) != _wanted_hash(wanted[name]):
                self._delete_service(name)
                changed = True
        current = {s.metadata.name for s in existing if s.metadata.name in wanted}
        for name, manifest in wanted.items():
            if name in current and not changed:
                continue
            if name in current and _hash(self._read_service(name)) == _wanted_hash(manifest):
                continue
            self._create(self.core.create_namespaced_service, manifest)
            get_logger().info("service created", service=name)
            changed = True
        return changed

    def _read_service(self, name: str) -> Any:
        try:
            return self.core.read_namespaced_service(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _delete_service(self, name: str) -> None:
        try:
            self.core.delete_namespaced_service(name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
        self._wait_gone(self.core.list_namespaced_service, name)
        get_logger().info("service deleted", service=name)

    # --- workloads ------------------------------------------------------------

    def replace_workloads(
        self, workloads: tuple[Manifest, ...], application: str, color: Color
    ) -> bool:
        """Remove the color's old workloads and pods, then create the new ones (unless current)."""
        existing = self._workloads(application, color)
        current = {(w["kind"], w["name"]): w["hash"] for w in existing}
        wanted = {(m["kind"], m["metadata"]["name"]): _wanted_hash(m) for m in workloads}
        if current == wanted:
            return False
        for workload in existing:
            self._delete_workload(workload["kind"], workload["name"])
        self._delete_pods(application, color)
        for manifest in workloads:
            create = (
                self.core.create_namespaced_replication_controller
                if manifest["kind"] == "ReplicationController"
                else self.apps.create_namespaced_deployment
            )
            self._create(create, manifest)
            get_logger().info(
                "workload created", kind=manifest["kind"], workload=manifest["metadata"]["name"]
            )
        return True

    def _workloads(self, application: str, color: Color) -> list[dict[str, Any]]:
        selector = _selector(application, color)
        found = [
            ("ReplicationController", rc)
            for rc in self.core.list_namespaced_replication_controller(
                self.namespace, label_selector=selector
            ).items
        ] + [
            ("Deployment", d)
            for d in self.apps.list_namespaced_deployment(
                self.namespace, label_selector=selector
            ).items
        ]
        return [
            {"kind": kind, "name": obj.metadata.name, "hash": _hash(obj), "object": obj}
            for kind, obj in found
        ]

    def _delete_workload(self, kind: str, name: str) -> None:
        delete, lister = (
            (
                self.core.delete_namespaced_replication_controller,
                self.core.list_namespaced_replication_controller,
            )
            if kind == "ReplicationController"
            else (self.apps.delete_namespaced_deployment, self.apps.list_namespaced_deployment)
        )
        try:
            delete(name, self.namespace, propagation_policy="Foreground")
        except ApiException as exc:
            if exc.status != 404:
                raise
        self._wait_gone(lister, name)
        get_logger().info("workload deleted", kind=kind, workload=name)

    def _delete_pods(self, application: str, color: Color) -> None:
        selector = _selector(application, color)
        self.core.delete_collection_namespaced_pod(self.namespace, label_selector=selector)
        deadline = time.monotonic() + 120
        while self.core.list_namespaced_pod(self.namespace, label_selector=selector).items:
            if time.monotonic() > deadline:
                raise DeployFailed(f"old {color} pods did not go away within 120 s")
            self._wait_for_change(self.core.list_namespaced_pod, label_selector=selector)

    def _create(self, create: Callable[..., Any], manifest: Manifest) -> None:
        try:
            create(self.namespace, manifest)
        except ApiException as exc:
            raise DeployFailed(
                f"Kubernetes refused {manifest['kind']} {manifest['metadata']['name']}: "
                f"{describe_api_error(exc)}"
            ) from exc

    def _wait_gone(self, lister: Callable[..., Any], name: str, timeout: float = 120) -> None:
        field = f"metadata.name={name}"
        deadline = time.monotonic() + timeout
        while lister(self.namespace, field_selector=field).items:
            if time.monotonic() > deadline:
                raise DeployFailed(f"{name} was not deleted within {timeout:.0f} s")
            self._wait_for_change(lister, field_selector=field)

    def _wait_for_change(self, lister: Callable[..., Any], **selector: str) -> None:
        """Block until the next event on the selected objects (or a few seconds pass)."""
        listing = lister(self.namespace, **selector)
        for _event in _stream(
            lister,
            self.namespace,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=5,
            deserialize=False,
            **selector,
        ):
            return

    # --- readiness ------------------------------------------------------------

    def readiness(self, application: str, color: Color) -> Readiness:
        """Ready replicas of the color's workloads (all of them must be settled)."""
        ready = desired = 0
        settled = True
        workloads = self._workloads(application, color)
        for workload in workloads:
            one = _workload_readiness(workload["object"].to_dict(serialize=True))
            ready, desired = ready + one.ready, desired + one.desired
            settled = settled and one.settled
        return Readiness(ready=ready, desired=desired, settled=settled and bool(workloads))

    def wait_ready(
        self, workloads: tuple[Manifest, ...], timeout: float, *, color: Color, commit: str
    ) -> None:
        """Watch each new workload until every replica is Ready; log progress; fail on timeout."""
        deadline = time.monotonic() + timeout
        for manifest in workloads:
            self._wait_workload_ready(manifest, deadline, timeout)
        get_logger().info("all replicas ready", color=color, commit=commit)

    def _wait_workload_ready(self, manifest: Manifest, deadline: float, timeout: float) -> None:
        name = manifest["metadata"]["name"]
        lister = (
            self.core.list_namespaced_replication_controller
            if manifest["kind"] == "ReplicationController"
            else self.apps.list_namespaced_deployment
        )
        log = get_logger()
        last: Readiness | None = None
        for state in self._watch_object(lister, name, deadline):
            now = _workload_readiness(state) if state else Readiness(0, 0, False)
            if now != last:
                log.info(
                    "waiting for pods", workload=name, progress=f"{now.ready}/{now.desired} ready"
                )
                last = now
            if now.complete:
                return
        raise DeployFailed(
            f"{manifest['kind']} {name}: {last.ready if last else 0}/"
            f"{last.desired if last else '?'} replicas Ready after {timeout:.0f} s"
            f"{self._pod_trouble(manifest)}",
            hint="traffic was not touched; fix the release (see pod events) and deploy again",
        )

    def _watch_object(
        self, lister: Callable[..., Any], name: str, deadline: float
    ) -> Iterator[dict[str, Any] | None]:
        """The object's state now, then after each change, until the deadline."""
        field = f"metadata.name={name}"
        while True:
            listing = lister(self.namespace, field_selector=field, _preload_content=False)
            body = _json(listing)
            items = body.get("items") or []
            yield items[0] if items else None
            version = body["metadata"]["resourceVersion"]
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    for event in _stream(
                        lister,
                        self.namespace,
                        field_selector=field,
                        resource_version=version,
                        timeout_seconds=max(1, math.ceil(remaining)),
                        deserialize=False,
                    ):
                        obj = event["object"]
                        version = obj.get("metadata", {}).get("resourceVersion", version)
                        yield None if event["type"] == "DELETED" else obj
                        if time.monotonic() >= deadline:
                            return
                except ApiException as exc:
                    if exc.status == 410:
                        break  # history expired: list again
                    raise
            else:
                return

    def _pod_trouble(self, manifest: Manifest) -> str:
        labels = manifest["spec"]["template"]["metadata"]["labels"]
        selector = ",".join(
            f"{k}={labels[k]}" for k in (LABEL_APPLICATION, LABEL_COLOR, LABEL_COMMIT)
        )
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        troubles = [_pod_reason(p.to_dict(serialize=True)) for p in pods]
        troubles = [t for t in troubles if t]
        return ("; " + "; ".join(troubles[:3])) if troubles else ""

    # --- lock -------------------------------------------------------------------

    def acquire_lock(self, application: str, holder: str, seconds: int) -> None:
        """Take the application's Lease, or raise LockHeld if another live deploy has it."""
        name = f"{application}-bluegreen-lock"
        now = datetime.now(UTC)
        spec = {
            "holderIdentity": holder,
            "leaseDurationSeconds": seconds,
            "acquireTime": _micro_time(now),
            "renewTime": _micro_time(now),
        }
        body: dict[str, Any] = {
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec,
        }
        try:
            self.coordination.create_namespaced_lease(self.namespace, body)
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
        lease = self.coordination.read_namespaced_lease(name, self.namespace)
        current = lease.spec.holder_identity
        renewed = lease.spec.renew_time or lease.spec.acquire_time
        duration = lease.spec.lease_duration_seconds or 0
        if (
            current not in (None, "", holder)
            and renewed
            and renewed + timedelta(seconds=duration) > now
        ):
            raise LockHeld(
                f"deploy {current} holds the lock {self.namespace}/{name} "
                f"until {(renewed + timedelta(seconds=duration)).isoformat(timespec='seconds')}",
                hint="wait for it to finish; if it died, delete the lease: "
                f"kubectl -n {self.namespace} delete lease {name}",
            )
        body["metadata"]["resourceVersion"] = lease.metadata.resource_version
        try:
            self.coordination.replace_namespaced_lease(name, self.namespace, body)
        except ApiException as exc:
            if exc.status == 409:
                raise LockHeld(f"another deploy took the lock {name} just now") from exc
            raise

    def release_lock(self, application: str, holder: str) -> None:
        name = f"{application}-bluegreen-lock"
        try:
            lease = self.coordination.read_namespaced_lease(name, self.namespace)
            if lease.spec.holder_identity == holder:
                self.coordination.delete_namespaced_lease(name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _stream(lister: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Watch events as plain dicts (the client's Watch is untyped)."""
    watching: Any = watch
    yield from watching.Watch().stream(lister, *args, **kwargs)


def _selector(application: str, color: Color) -> str:
    return f"{LABEL_APPLICATION}={application},{LABEL_COLOR}={color}"


def _hash(obj: Any) -> str | None:
    if obj is None:
        return None
    annotations = obj.metadata.annotations or {}
    value = annotations.get(ANNOTATION_HASH)
    return str(value) if value is not None else None


def _wanted_hash(manifest: Manifest) -> str:
    return str(manifest["metadata"]["annotations"][ANNOTATION_HASH])


def _json(response: Any) -> dict[str, Any]:
    import json

    try:
        data: dict[str, Any] = json.loads(response.data)
        return data
    finally:
        response.release_conn()


def _workload_readiness(obj: dict[str, Any]) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    metadata = obj.get("metadata") or {}
    desired = spec.get("replicas", 1)
    settled = (
        status.get("observedGeneration", 0) >= metadata.get("generation", 0)
        and status.get("replicas", 0) == desired
        and not metadata.get("deletionTimestamp")
    )
    if obj.get("kind") == "Deployment" or "strategy" in spec:
        settled = settled and status.get("updatedReplicas", 0) == desired
    return Readiness(ready=status.get("readyReplicas", 0) or 0, desired=desired, settled=settled)


def _pod_reason(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    if any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    ):
        return ""
    name = pod.get("metadata", {}).get("name", "?")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return f"pod {name}: {waiting['reason']} {waiting.get('message', '')}".strip()
    return f"pod {name}: {status.get('phase', 'Pending')}, not Ready"


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
