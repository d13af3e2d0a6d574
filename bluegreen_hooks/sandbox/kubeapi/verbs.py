"""REST verb semantics over the store: create, get, list, replace, patch, delete, watch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import objects
from .errors import ApiError, already_exists, bad_request, conflict, not_found
from .objects import KINDS, PROTECTED_NAMESPACES, Kind
from .patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from .selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from .services import assign_network
from .store import Store, clone
from .watch import stream_events

Obj = dict[str, Any]
Query = Mapping[str, str]

_POLICIES = ("Foreground", "Background", "Orphan")
# Kinds whose DELETE returns the deleted object; the others return a Success Status.
_RETURNS_OBJECT_ON_DELETE = frozenset({"pods", "services"})


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _selectors(kind: Kind, query: Query) -> tuple[LabelSelector, FieldSelector]:
    try:
        return (
            parse_label_selector(query.get("labelSelector")),
            parse_field_selector(query.get("fieldSelector"), kind.plural),
        )
    except SelectorError as exc:
        raise bad_request(str(exc)) from None


class ResourceApi:
    """The verbs for every kind; each call is atomic with respect to the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ reads

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self.store.get(kind.plural, namespace, name)
        if obj is None:
            raise not_found(kind.plural, name, kind.group)
        return obj

    def list_collection(self, kind: Kind, namespace: str | None, query: Query) -> Obj:
        labels, fields = _selectors(kind, query)
        with self.store.cond:
            rv = self.store.rv
            items = [
                clone(obj)
                for obj in self.store.snapshots(kind.plural, namespace)
                if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)
            ]
        metadata: Obj = {"resourceVersion": str(rv)}
        start = 0
        if query.get("continue"):
            try:
                start = int(query["continue"])
            except ValueError:
                raise bad_request("invalid continue token") from None
        limit = int(query.get("limit") or 0)
        if limit > 0:
            remaining = len(items) - start - limit
            if remaining > 0:
                metadata["continue"] = str(start + limit)
                metadata["remainingItemCount"] = remaining
            items = items[start : start + limit]
        else:
            items = items[start:]
        for item in items:  # like the real server, list items carry no kind/apiVersion
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {
            "kind": kind.list_kind,
            "apiVersion": kind.api_version,
            "metadata": metadata,
            "items": items,
        }

    def watch(
        self, kind: Kind, namespace: str | None, query: Query, client_gone: Callable[[], bool]
    ) -> Iterator[Obj]:
        """Validate the watch parameters (raising ApiError) and return the event stream."""
        labels, fields = _selectors(kind, query)
        raw_rv = query.get("resourceVersion") or ""
        since: int | None = None
        if raw_rv not in ("", "0"):
            try:
                since = int(raw_rv)
            except ValueError:
                raise bad_request(f"invalid resource version: {raw_rv!r}") from None
        timeout: float | None = None
        if query.get("timeoutSeconds"):
            try:
                timeout = float(query["timeoutSeconds"])
            except ValueError:
                raise bad_request("invalid timeoutSeconds") from None
        if _truthy(query.get("sendInitialEvents")):
            return self._watch_list(kind, namespace, labels, fields, timeout, client_gone)
        return stream_events(
            self.store, kind.plural, namespace, labels, fields, since, timeout, client_gone
        )

    def _watch_list(
        self,
        kind: Kind,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        timeout: float | None,
        client_gone: Callable[[], bool],
    ) -> Iterator[Obj]:
        """`sendInitialEvents=true` (client-go's watch-list, as kubectl uses): the current
        objects as ADDED, a bookmark marking their end, then the changes after them."""
        with self.store.cond:
            rv = self.store.rv
            current = [
                clone(obj)
                for obj in self.store.snapshots(kind.plural, namespace)
                if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)
            ]
        end_of_initial_events = {
            "kind": kind.kind,
            "apiVersion": kind.api_version,
            "metadata": {
                "resourceVersion": str(rv),
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        }
        yield from ({"type": "ADDED", "object": obj} for obj in current)
        yield {"type": "BOOKMARK", "object": end_of_initial_events}
        yield from stream_events(
            self.store, kind.plural, namespace, labels, fields, rv, timeout, client_gone
        )

    # ------------------------------------------------------------------ writes

    def create(self, kind: Kind, namespace: str, body: Any, dry_run: bool = False) -> Obj:
        with self.store.cond:
            if kind.namespaced and self.store.snapshot("namespaces", "", namespace) is None:
                raise not_found("namespaces", namespace)
            obj = objects.prepare_create(kind, body, namespace)
            meta = obj["metadata"]
            name = meta["name"]
            if self.store.snapshot(kind.plural, meta.get("namespace", ""), name) is not None:
                raise already_exists(kind.plural, name, kind.group)
            if kind.plural == "services":
                assign_network(obj, None, self._other_services(obj))
            return obj if dry_run else self.store.put(kind.plural, obj)

    def replace(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        body: Any,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Obj:
        with self.store.cond:
            old = self.get(kind, namespace, name)
            return self._update(kind, old, body, subresource, dry_run)

    def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        body: Any,
        content_type: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Obj:
        patch_type = content_type.split(";")[0].strip().lower()
        with self.store.cond:
            old = self.get(kind, namespace, name)
            try:
                if patch_type == "application/merge-patch+json":
                    merged = merge_patch(old, body)
                elif patch_type in ("application/strategic-merge-patch+json", ""):
                    merged = strategic_merge_patch(old, body)
                elif patch_type == "application/json-patch+json":
                    merged = json_patch(old, body)
                else:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        f"the body of the request was in an unknown format - accepted media "
                        f"types include: application/json-patch+json, "
                        f"application/merge-patch+json, application/strategic-merge-patch+json "
                        f"(got {content_type!r})",
                    )
            except PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from None
            return self._update(kind, old, merged, subresource, dry_run)

    def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        query: Query,
        body: Any,
    ) -> Obj:
        options = body if isinstance(body, dict) else {}
        policy = self._policy(query, options)
        with self.store.cond:
            obj = self.get(kind, namespace, name)
            self._check_preconditions(kind, obj, options.get("preconditions") or {})
            if kind.plural == "namespaces" and name in PROTECTED_NAMESPACES:
                raise ApiError(
                    403,
                    "Forbidden",
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    {"name": name, "kind": "namespaces"},
                )
            if not self._dry_run(query, options):
                obj = self._delete_tree(kind, obj, policy)
        if kind.plural in _RETURNS_OBJECT_ON_DELETE:
            return obj
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": kind.group,
                "kind": kind.plural,
                "uid": obj["metadata"]["uid"],
            },
        }

    def delete_collection(self, kind: Kind, namespace: str | None, query: Query, body: Any) -> Obj:
        options = body if isinstance(body, dict) else {}
        policy = self._policy(query, options)
        labels, fields = _selectors(kind, query)
        with self.store.cond:
            for obj in self.store.snapshots(kind.plural, namespace):
                if not (labels.matches(obj["metadata"].get("labels")) and fields.matches(obj)):
                    continue
                if kind.plural == "namespaces" and obj["metadata"]["name"] in PROTECTED_NAMESPACES:
                    continue
                if not self._dry_run(query, options):
                    self._delete_tree(kind, obj, policy)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    # ------------------------------------------------------------------ helpers

    def _update(self, kind: Kind, old: Obj, body: Any, subresource: str, dry_run: bool) -> Obj:
        new = objects.prepare_update(kind, old, body, subresource)
        old_meta = old["metadata"]
        requested_rv = new["metadata"].get("resourceVersion")
        if requested_rv not in (None, "") and requested_rv != old_meta["resourceVersion"]:
            raise conflict(kind.plural, old_meta["name"], kind.group)
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if kind.plural == "services":
            assign_network(new, old, self._other_services(new))
        if new == old or dry_run:  # a no-op update writes nothing, like the real server
            return new
        return self.store.put(kind.plural, new)

    def _other_services(self, service: Obj) -> list[Obj]:
        meta = service["metadata"]
        return [
            s
            for s in self.store.snapshots("services")
            if (s["metadata"]["namespace"], s["metadata"]["name"])
            != (meta["namespace"], meta["name"])
        ]

    @staticmethod
    def _policy(query: Query, options: Mapping[str, Any]) -> str:
        policy = query.get("propagationPolicy") or options.get("propagationPolicy")
        if policy is None and (
            _truthy(query.get("orphanDependents")) or options.get("orphanDependents") is True
        ):
            policy = "Orphan"
        policy = policy or "Background"
        if policy not in _POLICIES:
            raise bad_request(
                f"propagationPolicy: Unsupported value: {policy!r}: supported values: "
                + ", ".join(f'"{p}"' for p in _POLICIES)
            )
        return str(policy)

    @staticmethod
    def _dry_run(query: Query, options: Mapping[str, Any]) -> bool:
        return query.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])

    @staticmethod
    def _check_preconditions(kind: Kind, obj: Obj, preconditions: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        for key in ("uid", "resourceVersion"):
            wanted = preconditions.get(key)
            if wanted and wanted != meta.get(key):
                label = "UID" if key == "uid" else "ResourceVersion"
                raise conflict(
                    kind.plural,
                    meta["name"],
                    kind.group,
                    f"Precondition failed: {label} in precondition: {wanted}, {label} in object "
                    f"meta: {meta.get(key)}",
                )

    def _delete_tree(self, kind: Kind, obj: Obj, policy: str) -> Obj:
        """Delete `obj` and (unless orphaning) its dependents; returns obj's final snapshot."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        if kind.plural == "namespaces":
            for other in KINDS.values():
                if other.namespaced:
                    for child in self.store.snapshots(other.plural, meta["name"]):
                        self.store.delete(other.plural, meta["name"], child["metadata"]["name"])
            return self._final(kind, obj)
        children = self.store.dependents(meta["uid"]) if namespace else []
        dependents = [  # in the order of KINDS, then by name
            (other, child)
            for other in KINDS.values()
            if other.namespaced
            for plural, child in children
            if plural == other.plural and child["metadata"].get("namespace") == namespace
        ]
        if policy == "Orphan":
            for other, child in dependents:
                refs = [
                    ref
                    for ref in child["metadata"]["ownerReferences"]
                    if ref.get("uid") != meta["uid"]
                ]
                child = clone(child)
                if refs:
                    child["metadata"]["ownerReferences"] = refs
                else:
                    del child["metadata"]["ownerReferences"]
                self.store.put(other.plural, child)
            return self._final(kind, obj)
        if policy == "Background":  # the owner goes first; the garbage collector follows
            final = self._final(kind, obj)
            for other, child in dependents:
                self._delete_tree(other, child, policy)
            return final
        for other, child in dependents:  # Foreground: dependents first, then the owner
            self._delete_tree(other, child, policy)
        return self._final(kind, obj)

    def _final(self, kind: Kind, obj: Obj) -> Obj:
        meta = obj["metadata"]
        final = self.store.delete(kind.plural, meta.get("namespace", ""), meta["name"])
        return final if final is not None else obj
