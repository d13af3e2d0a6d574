"""The controller thread: runs pods, finishes deletions, and runs the workload controllers.

Pods start `ready_delay` seconds after creation; what they do then (Ready, never Ready, or one
of the failure modes) is the kubelet's part: see `kubelet.py`. Deletion (grace periods,
finalizers, garbage collection) is in `deletion.py`; ReplicationControllers and ReplicaSets in
`replicas.py`; Deployments in `deployments.py`.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, NamedTuple

from .deletion import Deletion
from .deployments import Deployments
from .kubelet import Kubelet
from .objects import KINDS, NODE_IP
from .replicas import ReadySince, Replicas
from .store import Store
from .timing import Timing

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
        deletion: Deletion | None = None,
        timing: Timing | None = None,
        *,
        node_address: str = NODE_IP,
        network: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.timing = timing or Timing()
        self.deletion = deletion or Deletion(store, self.timing)
        self._ready_since = ReadySince()
        self.replicas = Replicas(store, self.deletion, self.timing, self._ready_since)
        self.deployments = Deployments(store, self.deletion, self.timing)
        self.node_address = node_address  # the pods' hostIP
        self.network = network  # endpoints and NodePorts, synced at the end of every pass
        self.ready_events: list[ReadyEvent] = []
        self.kubelet = Kubelet(store, broken_marker, self._record_ready, host_ip=node_address)
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

    @property
    def broken_marker(self) -> str:
        return self.kubelet.broken_marker

    @broken_marker.setter
    def broken_marker(self, marker: str) -> None:
        self.kubelet.broken_marker = marker

    def kick(self) -> None:
        """Reconcile now (after a timing change, or a pod's failure mode set from outside)."""
        with self.store.cond:
            self._kicked = True
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
        """One pass over all pods and workloads; returns the next deadline, if any.

        It reads the store's snapshots (no copies) and each workload's pods from the store's
        owner index, so a pass costs O(objects), however many workloads there are.
        """
        now = time.monotonic()
        next_due: float | None = None
        pods = self.store.snapshots("pods")
        free_ips = _free_ips({(p.get("status") or {}).get("podIP") for p in pods})
        for pod in pods:
            due = self.kubelet.sync(pod, now, self._ready_delay, free_ips)
            if due is not None:
                next_due = due if next_due is None else min(next_due, due)
        self.kubelet.forget_missing({pod["metadata"]["uid"] for pod in pods})
        dues = [next_due, self.deletion.collect()]
        self._ready_since.observe(self.store.snapshots("pods"), now)
        for plural in ("replicationcontrollers", "replicasets"):
            for owner in self.store.snapshots(plural):
                dues.append(self.replicas.sync(KINDS[plural], owner, now))
        for deployment in self.store.snapshots("deployments"):
            dues.append(self.deployments.sync(deployment, now))
        if self.network is not None:
            self.network()
        return min((due for due in dues if due is not None), default=None)

    # ------------------------------------------------------------------ pods

    def _record_ready(self, pod: Obj) -> None:
        meta = pod["metadata"]
        self.ready_events.append(
            ReadyEvent(time.time(), meta["namespace"], meta["name"], dict(meta.get("labels") or {}))
        )


def _free_ips(used: set[Any]) -> Iterator[str]:
    """Pod IPs from 127.0.0.2 up that are not in `used`, lowest first."""
    ip = _FIRST_POD_IP
    while True:
        if str(ip) not in used:
            yield str(ip)
        ip += 1
