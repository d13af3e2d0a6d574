"""The controller thread: pods for ReplicationControllers and Deployments, readiness, status.

Simplifications: Deployments own their pods directly (no ReplicaSets), and a template change
replaces all of a Deployment's pods at once (like the Recreate strategy). Controllers never
adopt orphaned pods. A pod becomes Running `ready_delay` seconds after creation; it is Ready
unless one of its container images contains `broken_marker`, in which case it stays Running
with Ready=False and unready containers, like a pod whose readiness probe never passes.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, NamedTuple

from .errors import ApiError
from .objects import (
    KINDS,
    NODE_IP,
    TEMPLATE_HASH_ANNOTATION,
    is_pod_ready,
    now_rfc3339,
    owner_uid,
    prepare_create,
    random_suffix,
    running_pod_status,
    template_hash,
)
from .store import Store

Obj = dict[str, Any]

log = logging.getLogger(__name__)

_FIRST_POD_IP = ipaddress.ip_address("127.0.0.2")


class ReadyEvent(NamedTuple):
    """A pod turning Ready: wall-clock time, namespace, pod name, pod labels."""

    time: float
    namespace: str
    name: str
    labels: dict[str, str]


class Controller:
    """Reconciles workloads and pod readiness whenever the store changes or a pod is due."""

    def __init__(
        self,
        store: Store,
        ready_delay: float,
        broken_marker: str,
        *,
        node_address: str = NODE_IP,
        network: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.broken_marker = broken_marker
        self.node_address = node_address  # the pods' hostIP
        self.network = network  # endpoints and NodePorts, synced at the end of every pass
        self.ready_events: list[ReadyEvent] = []
        self._ready_delay = ready_delay
        self._kicked = False
        self._thread: threading.Thread | None = None

    @property
    def ready_delay(self) -> float:
        return self._ready_delay

    @ready_delay.setter
    def ready_delay(self, seconds: float) -> None:
        with self.store.cond:
            self._ready_delay = seconds
            self._kicked = True  # recompute deadlines of pending pods now
            self.store.cond.notify_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubeapi-controller", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the thread to exit; the owner closes the store first."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        store = self.store
        with store.cond:
            while not store.closed:
                seen = store.rv
                self._kicked = False
                try:
                    due = self.reconcile()
                except Exception:
                    log.exception("controller reconcile failed")
                    due = None
                timeout = None if due is None else max(0.0, due - time.monotonic())
                store.cond.wait_for(partial(self._changed, seen), timeout)

    def _changed(self, seen_rv: int) -> bool:
        return self.store.closed or self._kicked or self.store.rv != seen_rv

    def reconcile(self) -> float | None:
        """One pass over all pods and workloads; returns the next readiness deadline, if any.

        It reads the store's snapshots (no copies) and each workload's pods from the store's
        owner index, so a pass costs O(objects), however many workloads there are.
        """
        now = time.monotonic()
        next_due: float | None = None
        pods = self.store.snapshots("pods")
        free_ips = _free_ips({(p.get("status") or {}).get("podIP") for p in pods})
        for pod in pods:
            if (pod.get("status") or {}).get("phase") != "Pending":
                continue
            born = self.store.born(pod["metadata"]["uid"])
            due = (now if born is None else born) + self._ready_delay
            if due <= now:
                self._start_pod(pod, next(free_ips))
            else:
                next_due = due if next_due is None else min(next_due, due)
        for rc in self.store.snapshots("replicationcontrollers"):
            self._sync_workload(rc, deployment=False)
        for deployment in self.store.snapshots("deployments"):
            self._sync_workload(deployment, deployment=True)
        if self.network is not None:
            self.network()
        return next_due

    # ------------------------------------------------------------------ pods

    def _start_pod(self, pod: Obj, ip: str) -> None:
        containers = pod["spec"].get("containers") or []
        broken = bool(self.broken_marker) and any(
            self.broken_marker in str(c.get("image", "")) for c in containers
        )
        status = running_pod_status(pod, ip, ready=not broken, host_ip=self.node_address)
        stored = self.store.put("pods", {**pod, "status": status})
        if not broken:
            meta = stored["metadata"]
            self.ready_events.append(
                ReadyEvent(
                    time.time(), meta["namespace"], meta["name"], dict(meta.get("labels") or {})
                )
            )

    def _create_pod(self, owner: Obj, template: Obj, template_id: str | None) -> None:
        owner_meta = owner["metadata"]
        template_meta = template.get("metadata") or {}
        annotations = dict(template_meta.get("annotations") or {})
        if template_id is not None:
            annotations[TEMPLATE_HASH_ANNOTATION] = template_id
        metadata: Obj = {
            "name": f"{owner_meta['name']}-{random_suffix()}",
            "labels": dict(template_meta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner_meta["name"],
                    "uid": owner_meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if annotations:
            metadata["annotations"] = annotations
        namespace = owner_meta["namespace"]
        while self.store.snapshot("pods", namespace, metadata["name"]) is not None:
            metadata["name"] = f"{owner_meta['name']}-{random_suffix()}"
        body = {"metadata": metadata, "spec": template.get("spec") or {}}  # prepare_create copies
        try:
            pod = prepare_create(KINDS["pods"], body, namespace)
        except ApiError as exc:
            log.warning("cannot create pod for %s: %s", owner_meta["name"], exc.message)
            return
        self.store.put("pods", pod)

    # ------------------------------------------------------------------ workloads

    def _sync_workload(self, owner: Obj, deployment: bool) -> None:
        meta, spec = owner["metadata"], owner.get("spec") or {}
        template = spec.get("template") or {}
        desired = int(spec.get("replicas", 1))
        pods = self._owned_pods(owner)
        template_id = template_hash(template) if deployment else None
        if deployment:
            for pod in pods:
                if (pod["metadata"].get("annotations") or {}).get(
                    TEMPLATE_HASH_ANNOTATION
                ) != template_id:
                    self.store.delete("pods", meta["namespace"], pod["metadata"]["name"])
            pods = [
                p
                for p in pods
                if (p["metadata"].get("annotations") or {}).get(TEMPLATE_HASH_ANNOTATION)
                == template_id
            ]
        if len(pods) < desired:
            for _ in range(desired - len(pods)):
                self._create_pod(owner, template, template_id)
            pods = self._owned_pods(owner)
        elif len(pods) > desired:
            # Scale down unready pods first, then the youngest, as the real controllers do.
            def rank(pod: Obj) -> tuple[bool, float]:
                return is_pod_ready(pod), -(self.store.born(pod["metadata"]["uid"]) or 0.0)

            victims = sorted(pods, key=rank)[: len(pods) - desired]
            for pod in victims:
                self.store.delete("pods", meta["namespace"], pod["metadata"]["name"])
            gone = {pod["metadata"]["name"] for pod in victims}
            pods = [p for p in pods if p["metadata"]["name"] not in gone]
        status = (
            self._deployment_status(owner, pods, desired)
            if deployment
            else self._rc_status(owner, pods)
        )
        if status != owner.get("status"):
            kind = "deployments" if deployment else "replicationcontrollers"
            self.store.put(kind, {**owner, "status": status})

    def _owned_pods(self, owner: Obj) -> list[Obj]:
        """The pods (snapshots, by name) whose controlling owner is `owner`."""
        meta = owner["metadata"]
        return [
            pod
            for plural, pod in self.store.dependents(meta["uid"])
            if plural == "pods"
            and pod["metadata"].get("namespace") == meta["namespace"]
            and owner_uid(pod) == meta["uid"]
        ]

    @staticmethod
    def _rc_status(rc: Obj, pods: list[Obj]) -> Obj:
        selector = rc["spec"].get("selector") or {}
        ready = sum(is_pod_ready(p) for p in pods)
        labeled = sum(
            all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            for p in pods
        )
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": labeled,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rc["metadata"].get("generation", 1),
        }
        if (rc.get("status") or {}).get("conditions"):
            status["conditions"] = rc["status"]["conditions"]
        return status

    @staticmethod
    def _deployment_status(deployment: Obj, pods: list[Obj], desired: int) -> Obj:
        ready = sum(is_pod_ready(p) for p in pods)
        name = deployment["metadata"]["name"]
        old_conditions = {
            c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []
        }
        minimum = desired - _max_unavailable(deployment["spec"], desired)
        complete = len(pods) == desired and ready == desired
        wanted = [
            (
                "Available",
                "True" if ready >= minimum else "False",
                "MinimumReplicasAvailable" if ready >= minimum else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if ready >= minimum
                else "Deployment does not have minimum availability.",
            ),
            (
                "Progressing",
                "True",
                "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                f'Deployment "{name}" has successfully progressed.'
                if complete
                else f'Deployment "{name}" is progressing.',
            ),
        ]
        conditions = []
        now = now_rfc3339()
        for kind, flag, reason, message in wanted:
            old = old_conditions.get(kind) or {}
            same = (old.get("status"), old.get("reason"), old.get("message")) == (
                flag,
                reason,
                message,
            )
            conditions.append(
                {
                    "type": kind,
                    "status": flag,
                    "lastUpdateTime": old["lastUpdateTime"] if same else now,
                    "lastTransitionTime": old["lastTransitionTime"]
                    if old.get("status") == flag
                    else now,
                    "reason": reason,
                    "message": message,
                }
            )
        status: Obj = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": len(pods),
            "updatedReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions,
        }
        if desired - ready > 0:
            status["unavailableReplicas"] = desired - ready
        return status


def _free_ips(used: set[Any]) -> Iterator[str]:
    """Pod IPs from 127.0.0.2 up that are not in `used`, lowest first."""
    ip = _FIRST_POD_IP
    while True:
        if str(ip) not in used:
            yield str(ip)
        ip += 1


def _max_unavailable(spec: Obj, desired: int) -> int:
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(desired * int(value[:-1]) / 100)
    return int(value)
