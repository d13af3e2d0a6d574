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
from bluegreen_hooks.adoption import Adoption, decide
from bluegreen_hooks.colors import COLORS, Color
from bluegreen_hooks.config import WaitPolicy
from bluegreen_hooks.errors import DeployFailed, TemplateError, UsageError
from bluegreen_hooks.identity import USER_AGENT
from bluegreen_hooks.kube_rest import MAX_ATTEMPTS, Object, Rest, describe_api_error
from bluegreen_hooks.kube_watch import follow, list_collection
from bluegreen_hooks.lock import Lock
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.pod_trouble import PodTrouble, pod_trouble
from bluegreen_hooks.readiness import Readiness, workload_readiness
from bluegreen_hooks.service_rules import service_problem
from bluegreen_hooks.templates import (
    ANNOTATION_HASH,
    LABEL_APPLICATION,
    LABEL_COLOR,
    LABEL_COMMIT,
    WORKLOAD_KINDS,
    Manifest,
)
from bluegreen_hooks.waiting import Vigil, summary

_COLLECTIONS = {
    "Service": "/api/v1/namespaces/{ns}/services",
    "ReplicationController": "/api/v1/namespaces/{ns}/replicationcontrollers",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Event": "/api/v1/namespaces/{ns}/events",
}
_WORKLOAD_KINDS = ("ReplicationController", "Deployment")
# How long a delete may take: at least this, and a minute beyond the longest grace period of
# the pods being deleted (a template may give them more than the default 30 s).
DELETION_TIMEOUT = 120.0
DEFAULT_GRACE_SECONDS = 30

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
        self._events_denied = False  # the Role does not let us list events

    def _collection(self, kind: str) -> str:
        return _COLLECTIONS[kind].format(ns=self.namespace)

    def _path(self, kind: str, name: str) -> str:
        return f"{self._collection(kind)}/{name}"

    def check_namespace(self) -> None:
        """Preflight: the API answers and the namespace exists and is not being deleted."""
        try:
            namespace = self.rest.request("GET", f"/api/v1/namespaces/{self.namespace}", timeout=10)
        except ApiException as exc:
            if exc.status == 404:
                raise UsageError(
                    f"namespace {self.namespace!r} does not exist",
                    hint=f"kubectl create namespace {self.namespace}, or fix 'namespace'",
                ) from exc
            raise DeployFailed(f"Kubernetes API refused: {describe_api_error(exc)}") from exc
        if _deleting(namespace):  # it refuses new objects (403) until it is gone
            raise UsageError(
                f"namespace {self.namespace!r} is being deleted",
                hint="wait until it is gone and create it again, or fix 'namespace'",
            )

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
            s["metadata"]["name"]: None if _deleting(s) else _hash(s)
            for s in self._list("Service", labelSelector=_selector(application, color))
        }
        for name, current_hash in existing.items():
            if name not in wanted or current_hash != _hash(wanted[name]):
                self._delete("Service", name)
        for name, manifest in wanted.items():
            if existing.get(name) != _hash(manifest):
                self._create(manifest)
                get_logger().info("service created", service=name)

    # --- adoption ---------------------------------------------------------------

    def adoptions(
        self,
        *,
        idle: tuple[Color, tuple[Manifest, ...]],
        live: tuple[Color, tuple[Manifest, ...]],
        live_port: int,
    ) -> list[Adoption]:
        """Objects named like our manifests but without our labels (the seed's scripts' own),
        and what to do with each; reads only."""
        kinds = ["Service", *sorted(WORKLOAD_KINDS)]
        unlabelled = {
            (kind, item["metadata"]["name"]): item
            for kind in kinds
            for item in self._list(kind, labelSelector=f"!{LABEL_APPLICATION}")
        }
        return decide(unlabelled, idle=idle, live=live, live_port=live_port)

    def adopt(self, adoptions: list[Adoption], application: str) -> None:
        """Replace (delete, for the templates' objects to take the place) or label each."""
        for adoption in adoptions:
            get_logger().info(
                f"adopting {adoption.kind} {adoption.name}",
                action=adoption.action,
                color=adoption.color,
                reason=adoption.reason,
            )
            if adoption.action == "replace":
                self._delete(adoption.kind, adoption.name)
            else:
                self._label(adoption.kind, adoption.name, application, adoption.color)

    def _label(self, kind: str, name: str, application: str, color: Color) -> None:
        """Add our application and color labels to the object's metadata, nothing else."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            found = self._list(kind, fieldSelector=f"metadata.name={name}")
            if not found:
                return
            obj = {**found[0], "kind": kind, "apiVersion": WORKLOAD_KINDS.get(kind, "v1")}
            labels = obj["metadata"].get("labels") or {}
            obj["metadata"]["labels"] = {
                **labels,
                LABEL_APPLICATION: application,
                LABEL_COLOR: color,
            }
            try:
                self.rest.replace(self._path(kind, name), obj)
                return
            except ApiException as exc:
                if exc.status != 409 or attempt == MAX_ATTEMPTS:  # 409: changed meanwhile
                    raise DeployFailed(
                        f"labelling {kind} {name}: {describe_api_error(exc)}"
                    ) from exc

    # --- workloads ------------------------------------------------------------

    def replace_workloads(
        self, workloads: tuple[Manifest, ...], application: str, color: Color
    ) -> None:
        """Remove the color's old workloads and pods, then create the new ones (unless current)."""
        existing = self._workloads(application, color)
        current = {
            (w["kind"], w["metadata"]["name"]): None if _deleting(w) else _hash(w) for w in existing
        }
        wanted = {(m["kind"], m["metadata"]["name"]): _hash(m) for m in workloads}
        if current == wanted:
            return
        timeout = _deletion_timeout(existing)
        for workload in existing:
            self._delete(workload["kind"], workload["metadata"]["name"], timeout=timeout)
        self._delete_pods(application, color, timeout=timeout)
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

    def _delete(self, kind: str, name: str, *, timeout: float = DELETION_TIMEOUT) -> None:
        """Delete, dependents first (Foreground), and watch until it is gone: on a cluster that
        takes the pods' grace periods and any finalizers."""
        self.rest.delete(self._path(kind, name), propagationPolicy="Foreground")
        self._wait_until_empty(kind, timeout=timeout, fieldSelector=f"metadata.name={name}")
        get_logger().info("deleted", kind=kind, name=name)

    def _delete_pods(
        self, application: str, color: Color, *, timeout: float = DELETION_TIMEOUT
    ) -> None:
        selector = _selector(application, color)
        self.rest.delete(self._collection("Pod"), labelSelector=selector)
        self._wait_until_empty("Pod", timeout=timeout, labelSelector=selector)

    def _create(self, manifest: Manifest) -> None:
        try:
            self._post(manifest)
        except ApiException as exc:
            if exc.status == 409 and self._already_created(manifest):
                return
            raise DeployFailed(
                f"Kubernetes refused {manifest['kind']} {manifest['metadata']['name']}: "
                f"{describe_api_error(exc)}"
            ) from exc

    def _post(self, manifest: Manifest) -> None:
        """Create; if an object of that name is still being deleted (it has a
        deletionTimestamp: grace periods, finalizers), wait until it is gone, then create."""
        try:
            self.rest.create(self._collection(manifest["kind"]), manifest)
        except ApiException as exc:
            name = manifest["metadata"]["name"]
            if exc.status != 409 or not any(_deleting(o) for o in self._named(manifest)):
                raise
            self._wait_until_empty(manifest["kind"], fieldSelector=f"metadata.name={name}")
            self.rest.create(self._collection(manifest["kind"]), manifest)

    def _named(self, manifest: Manifest) -> list[Object]:
        name = manifest["metadata"]["name"]
        return self._list(manifest["kind"], fieldSelector=f"metadata.name={name}")

    def _already_created(self, manifest: Manifest) -> bool:
        """After 409: whether the object there is this very manifest (a retried POST that had
        landed, or a rerun after a crash), by its content hash; one being deleted is not."""
        wanted = _hash(manifest)
        return wanted is not None and any(
            _hash(existing) == wanted and not _deleting(existing)
            for existing in self._named(manifest)
        )

    def _wait_until_empty(
        self, kind: str, *, timeout: float = DELETION_TIMEOUT, **selector: str
    ) -> None:
        """Watch until nothing matches: deletion takes the pods' grace periods and waits for
        finalizers on a real cluster. Says once which finalizers hold an object, if any."""
        deadline = time.monotonic() + timeout
        left: list[Object] = []
        told: set[str] = set()
        for left in self._watch_items(kind, deadline, **selector):
            if not left:
                return
            held = _held_by(left)
            if held and not held.keys() <= told:
                get_logger().info("waiting for deletion", kind=kind, held_by=held)
                told |= held.keys()
        raise DeployFailed(
            f"{kind} {', '.join(sorted(o['metadata']['name'] for o in left))} still present "
            f"{timeout:.0f} s after deleting it" + _describe_held(_held_by(left)),
            hint="see what removes those finalizers (kubectl get -o yaml), or remove them",
        )

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
                failed="; ".join(s.failed for s in states if s.failed),
            )
        return result

    def wait_ready(
        self,
        workloads: tuple[Manifest, ...],
        timeout: float,
        *,
        color: Color,
        commit: str,
        policy: WaitPolicy | None = None,
    ) -> None:
        """Watch each new workload until every replica is Ready (and, after a wobble, stays
        so); log progress every few seconds; fail early when no pod can recover; fail on
        timeout."""
        started = time.monotonic()
        for manifest in workloads:
            vigil = Vigil(policy or WaitPolicy(), started, started + timeout)
            self._wait_workload_ready(manifest, vigil, timeout)
        get_logger().info("all replicas ready", color=color, commit=commit)

    def _wait_workload_ready(self, manifest: Manifest, vigil: Vigil, timeout: float) -> None:
        name, kind = manifest["metadata"]["name"], manifest["kind"]
        log = get_logger().bind(workload=name)
        vigil.last = Readiness(0, manifest["spec"].get("replicas", 1), False)
        selector = {"fieldSelector": f"metadata.name={name}"}
        while True:
            # Watch until the next progress line is due (or the hold ends), then look at pods.
            for items in self._watch_items(kind, vigil.slice_end(time.monotonic()), **selector):
                now = time.monotonic()
                if items:
                    readiness = workload_readiness({**items[0], "kind": kind})
                    for level, event, fields in vigil.see_readiness(readiness, now):
                        getattr(log, level)(event, **fields)
                if vigil.may_switch(now):
                    return
                if vigil.last is not None and vigil.last.failed:
                    raise self._deadline_exceeded(manifest, vigil.last)
            now = time.monotonic()
            if vigil.may_switch(now):
                return
            vigil.see_pods(self._release_pods(manifest), now)
            if now >= vigil.deadline:
                raise self._timed_out(manifest, vigil, timeout)
            if hopeless := vigil.hopeless(now):
                raise DeployFailed(
                    f"{kind} {name}: every new pod is failing and will not recover by itself: "
                    f"{summary(hopeless, self._warnings(hopeless))}",
                    hint=_fix_for(hopeless),
                )
            log.info("waiting for pods", **vigil.progress(now), **self._detail(vigil))

    def _deadline_exceeded(self, manifest: Manifest, last: Readiness) -> DeployFailed:
        """The controller gave up on the rollout: waiting out the timeout changes nothing."""
        troubles = [t for p in self._release_pods(manifest) if (t := pod_trouble(p))]
        why = f"; {summary(troubles, self._warnings(troubles[:3]))}" if troubles else ""
        return DeployFailed(
            f"{manifest['kind']} {manifest['metadata']['name']} exceeded its progress deadline: "
            f"{last.failed} ({last.ready}/{last.desired} replicas available){why}",
            hint="traffic was not touched; fix the release (see pod events) and deploy "
            "again, or raise spec.progressDeadlineSeconds in the template",
        )

    def _timed_out(self, manifest: Manifest, vigil: Vigil, timeout: float) -> DeployFailed:
        last = vigil.last or Readiness(0, 0, False)
        name = f"{manifest['kind']} {manifest['metadata']['name']}"
        if last.complete:
            what = (
                f"{name}: replicas not Ready for {vigil.hold:g} s in a row within {timeout:g} s"
                f" (Ready replicas went down {vigil.drops} times)"
            )
        else:
            what = f"{name}: {last.ready}/{last.desired} replicas Ready after {timeout:g} s"
        if vigil.troubles:
            what += f"; {summary(vigil.troubles, self._warnings(vigil.troubles[:3]))}"
        return DeployFailed(
            what, hint="traffic was not touched; fix the release (see pod events) and deploy again"
        )

    def _release_pods(self, manifest: Manifest) -> list[Object]:
        labels = manifest["spec"]["template"]["metadata"]["labels"]
        selector = ",".join(
            f"{k}={labels[k]}" for k in (LABEL_APPLICATION, LABEL_COLOR, LABEL_COMMIT)
        )
        return self._list("Pod", labelSelector=selector)

    def _detail(self, vigil: Vigil) -> dict[str, str]:
        """The worst pod's last warning, when its status alone does not say why."""
        worst = vigil.worst
        if worst is None or worst.message:
            return {}
        warning = self._warnings([worst]).get(worst.pod)
        return {"message": warning} if warning else {}

    def _warnings(self, troubles: list[PodTrouble]) -> dict[str, str]:
        """The latest Warning event of each pod whose status gives no message (a failing
        readiness probe says why only in events)."""
        found: dict[str, str] = {}
        for trouble in troubles:
            if trouble.message or self._events_denied:
                continue
            try:
                events = self._list(
                    "Event",
                    fieldSelector=f"involvedObject.kind=Pod,involvedObject.name={trouble.pod},"
                    "type=Warning",
                )
            except (ApiException, DeployFailed) as exc:
                cause = exc if isinstance(exc, ApiException) else exc.__cause__
                if not isinstance(cause, ApiException) or cause.status not in (403, 404):
                    raise
                # a Role from before events were granted: the reasons lose detail, not the deploy
                self._events_denied = True
                get_logger().warning(
                    "cannot read pod events; reasons will say less",
                    error=describe_api_error(cause),
                    fix="grant list on events (docs/rbac.yaml)",
                )
                continue
            if events:
                latest = max(events, key=_event_time)
                found[trouble.pod] = str(latest.get("message") or latest.get("reason") or "")
        return found

    # --- lock -------------------------------------------------------------------

    def lock(self, application: str) -> Lock:
        return Lock(self.rest, self.namespace, application)


def _selector(application: str, color: Color | None) -> str:
    selector = f"{LABEL_APPLICATION}={application}"
    return f"{selector},{LABEL_COLOR}={color}" if color else selector


def _deletion_timeout(workloads: list[Object]) -> float:
    graces = [
        (((w.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS
        )
        for w in workloads
    ]
    longest = max((g for g in graces if isinstance(g, int)), default=DEFAULT_GRACE_SECONDS)
    return max(DELETION_TIMEOUT, longest + 60.0)


# Finalizers that deletion itself adds and removes; any other one waits for someone else.
_DELETION_FINALIZERS = frozenset({"foregroundDeletion", "orphan"})


def _deleting(obj: Object) -> bool:
    """Whether the object is on its way out (a grace period or finalizers keep it for now)."""
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _held_by(objects: list[Object]) -> dict[str, list[str]]:
    """Name -> the finalizers, other than deletion's own, that keep a deleted object."""
    held: dict[str, list[str]] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        others = [f for f in meta.get("finalizers") or [] if f not in _DELETION_FINALIZERS]
        if meta.get("deletionTimestamp") and others:
            held[str(meta.get("name"))] = others
    return held


def _describe_held(held: dict[str, list[str]]) -> str:
    return "".join(f"; {name} is held by finalizers {', '.join(f)}" for name, f in held.items())


def _event_time(event: Object) -> tuple[str, int]:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
    version = str((event.get("metadata") or {}).get("resourceVersion") or "0")
    return str(stamp), int(version) if version.isdigit() else 0


def _fix_for(troubles: list[PodTrouble]) -> str:
    first = troubles[0]
    if first.image_pull:
        return (
            "traffic was not touched; check the image name and tag in the template, that it was "
            f"pushed, and the registry credentials (kubectl describe pod {first.pod})"
        )
    return (
        "traffic was not touched; the container keeps exiting: see "
        f"kubectl logs --previous {first.pod}, fix the release and deploy again"
    )


def _hash(obj: Object) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_HASH)
    return str(value) if value is not None else None
