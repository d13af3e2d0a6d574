"""The deploy lock: a coordination.k8s.io/v1 Lease per application, renewed while a deploy runs.

The Lease is short (LEASE_SECONDS) and a heartbeat thread renews it, so a crashed holder stops
blocking within one lease duration. Every write names the resourceVersion it read: a holder
never renews, and never deletes, a Lease someone else took over. Whether a holder is alive is
decided by watching its Lease: renewed means alive; silent for a whole duration (or expired)
means dead, and the Lease may be taken over.
"""

from __future__ import annotations

import contextvars
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bluegreen_hooks.errors import DeployFailed, LockHeld, UsageError
from bluegreen_hooks.logs import get_logger

if TYPE_CHECKING:
    from bluegreen_hooks.kube_rest import Object, Rest

LEASE_SECONDS = 20
LEASE_SECONDS_ENV = "BLUEGREEN_LEASE_SECONDS"
MIN_LEASE_SECONDS, MAX_LEASE_SECONDS = 2, 300
RENEWALS_PER_LEASE = 3  # the heartbeat renews this many times per lease duration


def lease_seconds() -> int:
    """The lease duration: LEASE_SECONDS, or BLUEGREEN_LEASE_SECONDS (e.g. short in tests)."""
    raw = os.environ.get(LEASE_SECONDS_ENV)
    if raw is None or not raw.strip():
        return LEASE_SECONDS
    if not raw.strip().isdigit() or not MIN_LEASE_SECONDS <= int(raw) <= MAX_LEASE_SECONDS:
        raise UsageError(
            f"{LEASE_SECONDS_ENV} is {raw!r}, not a whole number of seconds "
            f"from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS}",
            hint=f"unset it (default {LEASE_SECONDS}) or set e.g. {LEASE_SECONDS_ENV}=20",
        )
    return int(raw)


def holder_identity(deployment_id: str) -> str:
    """`d-ABC123@host`: which deploy holds the lock, and where it runs."""
    return f"{deployment_id}@{socket.gethostname()}"


def describe_holder(identity: str) -> str:
    """`deploy d-ABC123 on host web-1` from a holder identity (or the identity as it is)."""
    deployment, at, host = identity.rpartition("@")
    return f"deploy {deployment} on host {host}" if at and deployment else f"deploy {identity}"


@dataclass(frozen=True)
class LeaseState:
    """A Lease as read: who holds it, when it was last renewed, until when."""

    holder: str
    renewed: datetime
    duration: int
    version: str

    @property
    def expires(self) -> datetime:
        return self.renewed + timedelta(seconds=self.duration)

    def expired(self) -> bool:
        return self.expires <= datetime.now(UTC)

    def same_renewal(self, other: LeaseState) -> bool:
        return (self.holder, self.renewed) == (other.holder, other.renewed)


class Lock:
    """The Lease `<application>-bluegreen-lock` in one namespace."""

    def __init__(self, rest: Rest, namespace: str, application: str) -> None:
        self.rest = rest
        self.namespace = namespace
        self.name = f"{application}-bluegreen-lock"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.path = f"{self.collection}/{self.name}"

    # --- reading -----------------------------------------------------------------------

    def read(self) -> LeaseState | None:
        """The Lease as it stands (None when there is none, or nobody holds it)."""
        return _state(self.rest.find(self.path))

    def live_holder(self) -> LeaseState | None:
        """The holder if it is alive: waits (at most one lease duration) to see it renew."""
        state = self.read()
        if state is None or not self._alive(state):
            return None
        return self.read() or state

    def _alive(self, state: LeaseState) -> bool:
        """Watch the Lease until its holder renews it (alive), or lets it lapse (dead).

        The wait is measured on this host's clock from now, so clock skew between hosts can
        delay a verdict by at most one lease duration but never make a dead holder look alive.
        """
        if state.expired():
            return False
        remaining = (state.expires - datetime.now(UTC)).total_seconds()
        deadline = time.monotonic() + min(remaining, state.duration) + 0.5
        get_logger().info(
            "lock held; waiting to see whether its holder renews it",
            holder=state.holder,
            wait_at_most=f"{math.ceil(deadline - time.monotonic())} s",
        )
        from bluegreen_hooks.kube_watch import follow

        for leases in follow(
            self.rest,
            self.collection,
            deadline,
            self._listing,
            what=f"Lease {self.name}",
            fieldSelector=f"metadata.name={self.name}",
        ):
            seen = _state(leases[0]) if leases else None
            if seen is None:  # deleted, or nobody holds it
                return False
            if not seen.same_renewal(state):
                return True
        return False

    def _listing(self) -> tuple[dict[str, Object], str]:
        """The Lease as `kube_watch.follow` reads it: by name, and the version to watch from."""
        lease = self.rest.find(self.path)
        if lease is None:
            return {}, ""
        return {self.name: lease}, str(lease["metadata"]["resourceVersion"])

    # --- taking and giving back ----------------------------------------------------------

    def acquire(self, deployment_id: str) -> HeldLock:
        """Take the Lease and start renewing it; LockHeld if a live deploy holds it."""
        identity = holder_identity(deployment_id)
        duration = lease_seconds()
        for _ in range(5):  # another deploy may race us for a free or lapsed Lease
            current = self.rest.find(self.path)
            state = _state(current)
            if current is None:
                version = self._create(identity, duration)
            elif state is None or state.holder == identity or not self._alive(state):
                if state is not None and state.holder != identity:
                    get_logger().warning(
                        "taking over the lock from a deploy that stopped renewing it",
                        holder=state.holder,
                        renewed=state.renewed.isoformat(timespec="seconds"),
                    )
                version = self._take_over(identity, duration, current)
            else:
                raise LockHeld(
                    f"{describe_holder(state.holder)} holds the lock "
                    f"{self.namespace}/{self.name} and is renewing it",
                    hint="wait for that deploy to finish; if it is stuck, stop it, or remove "
                    "the lock with `bluegreen unlock --force` (that deploy then stops before "
                    "switching)",
                )
            if version is not None:
                return HeldLock(self, identity, duration, version)
        raise LockHeld(f"other deploys keep taking the lock {self.namespace}/{self.name}")

    def _create(self, identity: str, duration: int) -> str | None:
        """Create the Lease; None if someone else created it first."""
        try:
            created = self.rest.create(self.collection, self.lease_body(identity, duration, None))
        except _api_exception() as exc:
            if exc.status == 409:
                return None
            raise
        return str(created["metadata"]["resourceVersion"])

    def _take_over(self, identity: str, duration: int, lease: Object) -> str | None:
        """Replace the Lease we read; None if it changed since."""
        body = self.lease_body(identity, duration, lease["metadata"]["resourceVersion"])
        try:
            replaced = self.rest.replace(self.path, body)
        except _api_exception() as exc:
            if exc.status in (404, 409):
                return None
            raise
        return str(replaced["metadata"]["resourceVersion"])

    def lease_body(
        self, identity: str, duration: int, version: str | None, acquired: str | None = None
    ) -> Object:
        """The Lease held by `identity`, renewed now; `version` is the one it replaces."""
        now = _micro_time(datetime.now(UTC))
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if version is not None:
            metadata["resourceVersion"] = version
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": identity,
                "leaseDurationSeconds": duration,
                "acquireTime": acquired or now,
                "renewTime": now,
            },
        }

    def remove(self, state: LeaseState) -> bool:
        """Delete the Lease exactly as read; False if it changed (or went) since."""
        try:
            self.rest.request(
                "DELETE",
                self.path,
                body={"preconditions": {"resourceVersion": state.version}},
            )
        except _api_exception() as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True


class HeldLock:
    """A Lease we hold, renewed by a background thread until `release()`."""

    def __init__(self, lock: Lock, identity: str, duration: int, version: str) -> None:
        self.lock = lock
        self.identity = identity
        self.duration = duration
        self._version = version
        self._acquired = _micro_time(datetime.now(UTC))
        self._lost: str | None = None
        self._mutex = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(  # with the deploy's log context
            target=contextvars.copy_context().run,
            args=(self._heartbeat,),
            name="lock-heartbeat",
            daemon=True,
        )
        self._thread.start()
        get_logger().info("lock taken", lock=lock.name, holder=identity, lease=f"{duration} s")

    def _heartbeat(self) -> None:
        interval = self.duration / RENEWALS_PER_LEASE
        while not self._stopping.wait(interval):
            try:
                self._renew()
            except Exception as exc:  # transient: try again at the next beat
                get_logger().warning("could not renew the lock; will try again", error=str(exc))
            if self._lost is not None:
                return

    def _renew(self) -> None:
        with self._mutex:
            if self._lost is not None or self._stopping.is_set():
                return
            lock = self.lock
            body = lock.lease_body(self.identity, self.duration, self._version, self._acquired)
            renewed: Object | None
            try:
                renewed = lock.rest.replace(lock.path, body)
            except _api_exception() as exc:
                if exc.status not in (404, 409):
                    raise
                renewed = self._own_write(body)
            if renewed is None:
                self._lose(lock.read())
                return
            self._version = str(renewed["metadata"]["resourceVersion"])

    def _own_write(self, body: Object) -> Object | None:
        """After a 409: the Lease as we wrote it, if an earlier attempt of ours landed."""
        found = self.lock.rest.find(self.lock.path)
        spec = (found or {}).get("spec") or {}
        ours = (spec.get("holderIdentity"), spec.get("renewTime")) == (
            self.identity,
            body["spec"]["renewTime"],
        )
        return found if found and ours else None

    def _lose(self, now: LeaseState | None) -> None:
        self._lost = f"{describe_holder(now.holder)} took it over" if now else "it was removed"
        get_logger().error("lost the deploy lock", why=self._lost, lock=self.lock.name)

    def check(self) -> None:
        """Before changing traffic: renew the Lease now, which fails if it is no longer ours."""
        self._renew()
        if self._lost is not None:
            now = self.lock.read()
            error = LockHeld if now is not None else DeployFailed
            raise error(
                f"lost the deploy lock {self.lock.namespace}/{self.lock.name}: {self._lost}; "
                "traffic was not switched",
                hint="check `bluegreen status` and `bluegreen readiness`, then deploy again",
            )

    def release(self) -> None:
        """Stop renewing and delete the Lease, unless someone else holds it now.

        Never raises: a Lease that cannot be deleted lapses within one duration anyway, and
        the deploy's own outcome is what its caller must hear about.
        """
        self._stopping.set()
        self._thread.join()
        with self._mutex:
            if self._lost is not None:
                return
            try:
                state = self.lock.read()
                if state is None or (state.holder, state.version) != (self.identity, self._version):
                    return
                if self.lock.remove(state):
                    get_logger().info("lock released", lock=self.lock.name)
            except Exception as exc:
                get_logger().warning(
                    "could not release the lock; it lapses by itself",
                    lock=self.lock.name,
                    within=f"{self.duration} s",
                    error=str(exc),
                )


def _state(lease: Object | None) -> LeaseState | None:
    spec = (lease or {}).get("spec") or {}
    holder = spec.get("holderIdentity")
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if lease is None or not holder or not renewed:
        return None
    return LeaseState(
        holder=str(holder),
        renewed=datetime.fromisoformat(str(renewed).replace("Z", "+00:00")),
        duration=int(spec.get("leaseDurationSeconds") or 0),
        version=str(lease["metadata"]["resourceVersion"]),
    )


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _api_exception() -> type[Any]:
    """The client's ApiException, imported only once a Kubernetes call is made."""
    from kubernetes.client.exceptions import ApiException

    return ApiException
