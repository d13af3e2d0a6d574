"""The deploy lock: a coordination.k8s.io/v1 Lease per application, held while a deploy runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubernetes.client.exceptions import ApiException

from bluegreen_hooks.errors import LockHeld
from bluegreen_hooks.kube_rest import Object, Rest


class Lock:
    """The Lease `<application>-bluegreen-lock` in one namespace."""

    def __init__(self, rest: Rest, namespace: str, application: str) -> None:
        self.rest = rest
        self.namespace = namespace
        self.name = f"{application}-bluegreen-lock"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.path = f"{self.collection}/{self.name}"

    def acquire(self, holder: str, seconds: int) -> None:
        """Take the application's Lease, or raise LockHeld if another live deploy has it."""
        name = self.name
        now = datetime.now(UTC)
        body: Object = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": seconds,
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
            },
        }
        try:
            self.rest.create(self.collection, body)
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
        lease = self.rest.get(self.path)
        spec = lease.get("spec") or {}
        current = spec.get("holderIdentity")
        expires = _lease_expiry(spec)
        if current not in (None, "", holder) and expires is not None and expires > now:
            raise LockHeld(
                f"deploy {current} holds the lock {self.namespace}/{name} "
                f"until {expires.isoformat(timespec='seconds')}",
                hint="wait for it to finish; if it died, delete the lease: "
                f"kubectl -n {self.namespace} delete lease {name}",
            )
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        try:
            self.rest.replace(self.path, body)
        except ApiException as exc:
            if exc.status == 409:
                raise LockHeld(f"another deploy took the lock {name} just now") from exc
            raise

    def holder(self) -> tuple[str, datetime] | None:
        """Who holds the application's lock, and until when (None if free or expired)."""
        lease = self.rest.find(self.path)
        spec = (lease or {}).get("spec") or {}
        expires = _lease_expiry(spec)
        holder = spec.get("holderIdentity")
        if not holder or expires is None or expires <= datetime.now(UTC):
            return None
        return str(holder), expires

    def release(self, holder: str) -> None:
        path = self.path
        lease = self.rest.find(path)
        if lease and (lease.get("spec") or {}).get("holderIdentity") == holder:
            self.rest.delete(path)


def _lease_expiry(spec: Object) -> datetime | None:
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return None
    moment = datetime.fromisoformat(renewed.replace("Z", "+00:00"))
    return moment + timedelta(seconds=spec.get("leaseDurationSeconds") or 0)


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
