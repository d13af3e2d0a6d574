"""The cluster steps of a deploy: services, workloads, and waiting for Ready by watch."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from kubernetes import config
from kubernetes.client.api_client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from bluegreen_hooks import env_errors
from bluegreen_hooks.colors import COLORS, Color
from bluegreen_hooks.errors import DeployFailed, TemplateError, UsageError
from bluegreen_hooks.identity import USER_AGENT
from bluegreen_hooks.kube_rest import Object, Rest, describe_api_error
from bluegreen_hooks.kube_watch import follow, list_collection
from bluegreen_hooks.lock import Lock
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.readiness import Readiness, pod_reason, workload_readiness, worth_showing
from bluegreen_hooks.service_rules import service_problem
from bluegreen_hooks.templates import (
    ANNOTATION_HASH,
    LABEL_APPLICATION,
    LABEL_COLOR,
    LABEL_COMMIT,
    Manifest,
)

_COLLECTIONS = {
    "Service": "/api/v1/namespaces/{ns}/services",
    "ReplicationController": "/api/v1/namespaces/{ns}/replicationcontrollers",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Pod": "/api/v1/namespaces/{ns}/pods",
}
_WORKLOAD_KINDS = ("ReplicationController", "Deployment")

__all__ = ["Cluster", "connect", "describe_api_error", "validate_manifests"]


def connect() -> ApiClient:
    """An API client from KUBECONFIG (or ~/.kube/config), else the in-cluster service account."""
    from kubernetes.client.configuration import Configuration

    loader: Any = config
    settings: Any = Configuration()
    # The client reads KUBECONFIG when first imported; read it again, as kubectl would.
    kubeconfig = os.environ.get("KUBECONFIG") or None
    try:
        loader.load_kube_config(config_file=kubeconfig, client_configuration=settings)
    except Exception as kubeconfig_error:  # whatever is wrong in it, it is a config error (exit 2)
        named = env_errors.default_kubeconfig()
        if env_errors.kubeconfig_exists(named):
            raise env_errors.kubeconfig_error(kubeconfig_error, named) from None
        try:
            loader.load_incluster_config(client_configuration=settings)
        except ConfigException:
            raise env_errors.no_kubeconfig(named) from None
    settings.retries = False  # kube_rest retries, knowing which requests are safe to repeat
    api_client = ApiClient(configuration=settings)
    api_client.user_agent = USER_AGENT  # names our requests in audit logs (and the sandbox's)
    return api_client


def validate_manifests(manifests: tuple[Manifest, ...]) -> None:
    """Check rendered objects against the client's schema before anything is sent."""
    from pydantic import ValidationError

    for manifest in manifests:
        try:
            _model(manifest["kind"]).model_validate(manifest)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise TemplateError(
                f"{manifest['kind']} {manifest['metadata']['name']}: {where}: {first['msg']}"
            ) from exc
        problem = service_problem(manifest) if manifest["kind"] == "Service" else None
        if problem:  # what the API server would refuse with 422 mid-deploy
            raise TemplateError(f"Service {manifest['metadata']['name']}: {problem}")


def _model(kind: str) -> Any:
    if kind == "Service":
        from kubernetes.client.models.v1_service import V1Service

        return V1Service
    if kind == "ReplicationController":
        from kubernetes.client.models.v1_replication_controller import V1ReplicationController

        return V1ReplicationController
    from kubernetes.client.models.v1_deployment import V1Deployment

    return V1Deployment


class Cluster:
    """One namespace of one cluster."""

    def __init__(self, api_client: ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.rest = Rest(api_client)

    def _collection(self, kind: str) -> str:
        return _COLLECTIONS[kind].format(ns=self.namespace)

    def _path(self, kind: str, name: str) -> str:
        return f"{self._collection(kind)}/{name}"

    def check_namespace(self) -> None:
        """Preflight: the API answers and the namespace exists."""
        try:
            self.rest.request("GET", f"/api/v1/namespaces/{self.namespace}", timeout=10)
        except ApiException as exc:
            if exc.status == 404:
                raise UsageError(
                    f"namespace {self.namespace!r} does not exist",
                    hint=f"kubectl create namespace {self.namespace}, or fix 'namespace'",
                ) from exc
            raise DeployFailed(f"Kubernetes API refused: {describe_api_error(exc)}") from exc

    def _list(self, kind: str, **query: str) -> list[Object]:
        items: list[Object] = self.rest.get(self._collection(kind), **query).get("items") or []
        return items

    # --- services -------------------------------------------------------------

    def apply_services(
        self, services: tuple[Manifest, ...], application: str, color: Color
    ) -> None:
        """Recreate the color's Services unless they already match; drop stale ones."""
        wanted = {s["metadata"]["name"]: s for s in services}
        existing = {
            s["metadata"]["name"]: _hash(s)
            for s in self._list("Service", labelSelector=_selector(application, color))
        }
        for name, current_hash in existing.items():
            if name not in wanted or current_hash != _hash(wanted[name]):
                self._delete("Service", name)
        for name, manifest in wanted.items():
            if existing.get(name) != _hash(manifest):
                self._create(manifest)
                get_logger().info("service created", service=name)

    # --- workloads ------------------------------------------------------------

    def replace_workloads(
        self, workloads: tuple[Manifest, ...], application: str, color: Color
    ) -> None:
        """Remove the color's old workloads and pods, then create the new ones (unless current)."""
        existing = self._workloads(application, color)
        current = {(w["kind"], w["metadata"]["name"]): _hash(w) for w in existing}
        wanted = {(m["kind"], m["metadata"]["name"]): _hash(m) for m in workloads}
        if current == wanted:
            return
        for workload in existing:
            self._delete(workload["kind"], workload["metadata"]["name"])
        self._delete_pods(application, color)
        for manifest in workloads:
            self._create(manifest)
            get_logger().info(
                "workload created", kind=manifest["kind"], workload=manifest["metadata"]["name"]
            )

    def _workloads(self, application: str, color: Color | None) -> list[Object]:
        """The application's workloads of one color (or of both), each with its kind."""
        selector = _selector(application, color)
        found: list[Object] = []
        for kind in _WORKLOAD_KINDS:
            for item in self._list(kind, labelSelector=selector):
                item["kind"] = kind
                found.append(item)
        return found

    def _delete(self, kind: str, name: str) -> None:
        self.rest.delete(self._path(kind, name), propagationPolicy="Foreground")
        self._wait_until_empty(kind, fieldSelector=f"metadata.name={name}")
        get_logger().info("deleted", kind=kind, name=name)

    def _delete_pods(self, application: str, color: Color) -> None:
        selector = _selector(application, color)
        self.rest.delete(self._collection("Pod"), labelSelector=selector)
        self._wait_until_empty("Pod", labelSelector=selector)

    def _create(self, manifest: Manifest) -> None:
        try:
            self.rest.create(self._collection(manifest["kind"]), manifest)
        except ApiException as exc:
            if exc.status == 409 and self._already_created(manifest):
                return
            raise DeployFailed(
                f"Kubernetes refused {manifest['kind']} {manifest['metadata']['name']}: "
                f"{describe_api_error(exc)}"
            ) from exc

    def _already_created(self, manifest: Manifest) -> bool:
        """After 409: whether the object there is this very manifest (a retried POST that had
        landed, or a rerun after a crash), by its content hash."""
        wanted = _hash(manifest)
        name = manifest["metadata"]["name"]
        found = self._list(manifest["kind"], fieldSelector=f"metadata.name={name}")
        return wanted is not None and any(_hash(existing) == wanted for existing in found)

    def _wait_until_empty(self, kind: str, *, timeout: float = 120, **selector: str) -> None:
        """Watch until nothing matches (deletion can take a while on a real cluster)."""
        deadline = time.monotonic() + timeout
        for items in self._watch_items(kind, deadline, **selector):
            if not items:
                return
        raise DeployFailed(f"{kind} {selector} still present after {timeout:.0f} s")

    def _watch_items(self, kind: str, deadline: float, **selector: str) -> Iterator[list[Object]]:
        """The matching objects now, then again after each change, until the deadline
        (resumed after drops and server timeouts, listed again on 410: see kube_watch)."""
        collection = self._collection(kind)
        what = f"{kind} {' '.join(selector.values())}"
        yield from follow(
            self.rest,
            collection,
            deadline,
            partial(list_collection, self.rest, collection, **selector),
            what=what,
            **selector,
        )

    # --- readiness ------------------------------------------------------------

    def readiness(self, application: str, color: Color) -> Readiness:
        """Ready replicas of the color's workloads (all of them must be settled)."""
        return self.readiness_by_color(application)[color]

    def readiness_by_color(self, application: str) -> dict[Color, Readiness]:
        """Both colors at once: one list per workload kind."""
        workloads = self._workloads(application, None)
        result: dict[Color, Readiness] = {}
        for color in COLORS:
            states = [
                workload_readiness(w)
                for w in workloads
                if w["metadata"].get("labels", {}).get(LABEL_COLOR) == color
            ]
            result[color] = Readiness(
                ready=sum(s.ready for s in states),
                desired=sum(s.desired for s in states),
                settled=bool(states) and all(s.settled for s in states),
            )
        return result

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
        log = get_logger()
        last = Readiness(0, manifest["spec"].get("replicas", 1), False)
        shown: Readiness | None = None
        selector = {"fieldSelector": f"metadata.name={name}"}
        for items in self._watch_items(manifest["kind"], deadline, **selector):
            last = workload_readiness({**items[0], "kind": manifest["kind"]}) if items else last
            if worth_showing(last, shown):
                log.info(
                    "waiting for pods", workload=name, progress=f"{last.ready}/{last.desired} ready"
                )
                shown = last
            if last.complete:
                return
        raise DeployFailed(
            f"{manifest['kind']} {name}: {last.ready}/{last.desired} replicas Ready "
            f"after {timeout:g} s{self._pod_trouble(manifest)}",
            hint="traffic was not touched; fix the release (see pod events) and deploy again",
        )

    def _pod_trouble(self, manifest: Manifest) -> str:
        labels = manifest["spec"]["template"]["metadata"]["labels"]
        selector = ",".join(
            f"{k}={labels[k]}" for k in (LABEL_APPLICATION, LABEL_COLOR, LABEL_COMMIT)
        )
        troubles = [pod_reason(p) for p in self._list("Pod", labelSelector=selector)]
        troubles = [t for t in troubles if t]
        return ("; " + "; ".join(troubles[:3])) if troubles else ""

    # --- lock -------------------------------------------------------------------

    def lock(self, application: str) -> Lock:
        return Lock(self.rest, self.namespace, application)


def _selector(application: str, color: Color | None) -> str:
    selector = f"{LABEL_APPLICATION}={application}"
    return f"{selector},{LABEL_COLOR}={color}" if color else selector


def _hash(obj: Object) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_HASH)
    return str(value) if value is not None else None
