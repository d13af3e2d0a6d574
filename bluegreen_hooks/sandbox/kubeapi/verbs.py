"""REST verb semantics over the store: create, get, list, replace, patch, delete, watch."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from . import objects
from .deletion import Deletion, terminating
from .errors import ApiError, already_exists, bad_request, conflict, not_found
from .objects import PROTECTED_NAMESPACES, Kind
from .patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from .selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from .services import assign_network
from .store import Expired, Store, clone
from .timing import Timing
from .watch import Cutter, WatchLimits, WatchRequest, stream_events

Obj = dict[str, Any]
Query = Mapping[str, str]

_POLICIES = ("Foreground", "Background", "Orphan")
# Kinds whose DELETE returns the deleted object; the others return a Success Status.
_RETURNS_OBJECT_ON_DELETE = frozenset({"pods", "services"})


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue value from the "
    "response to get a consistent list result."
)


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


class _ContinueToken(NamedTuple):
    """What a continue token holds, as kube-apiserver's: the list's version and the last key."""

    rv: int
    after: str

    def encode(self) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": self.rv, "start": self.after + "\x00"})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> _ContinueToken:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            rv, start = int(raw["rv"]), str(raw["start"])
            if raw.get("v") != "meta.k8s.io/v1" or rv <= 0 or not start.endswith("\x00"):
                raise ValueError(token)
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise bad_request(
                "continue key is not valid: the continue token was not issued by this server"
            ) from None
        return cls(rv, start[:-1])


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

    def __init__(
        self,
        store: Store,
        watch_limits: WatchLimits | None = None,
        deletion: Deletion | None = None,
    ) -> None:
        self.store = store
        self.watch_limits = watch_limits or WatchLimits()
        self.deletion = deletion or Deletion(store, Timing())

    # ------------------------------------------------------------------ reads

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self.store.get(kind.plural, namespace, name)
        if obj is None:
            raise not_found(kind.plural, name, kind.group)
        return obj

    def list_collection(self, kind: Kind, namespace: str | None, query: Query) -> Obj:
        labels, fields = _selectors(kind, query)
        token = query.get("continue") or ""
        start = _ContinueToken.decode(token) if token else None
        with self.store.cond:
            rv = self.store.rv
            if start is not None:  # a later page of a list served at start.rv
                try:
                    self.store.check_retained(start.rv)
                except Expired:
                    raise ApiError(410, "Expired", _CONTINUE_EXPIRED) from None
                rv = start.rv
            else:
                self._check_list_version(query)
            items = [
                clone(obj)
                for obj in self.store.snapshots(kind.plural, namespace)
                if (start is None or _key(obj) > start.after)
                and labels.matches(obj["metadata"].get("labels"))
                and fields.matches(obj)
            ]
        metadata: Obj = {"resourceVersion": str(rv)}
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise bad_request(f"invalid limit: {query.get('limit')!r}") from None
        if 0 < limit < len(items):
            metadata["continue"] = _ContinueToken(rv, _key(items[limit - 1])).encode()
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        for item in items:  # like the real server, list items carry no kind/apiVersion
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {
            "kind": kind.list_kind,
            "apiVersion": kind.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _check_list_version(self, query: Query) -> None:
        """A list at an exact resourceVersion whose history was compacted answers 410.

        (Any other list is served from the current state, which every resourceVersion
        `NotOlderThan` allows.)
        """
        match = query.get("resourceVersionMatch") or ""
        raw = query.get("resourceVersion") or ""
        if match not in ("", "Exact", "NotOlderThan"):
            raise bad_request(
                f'resourceVersionMatch: Unsupported value: "{match}": supported values: '
                '"Exact", "NotOlderThan"'
            )
        if match and not raw:
            raise bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if not raw:
            return
        try:
            version = int(raw)
        except ValueError:
            raise bad_request(f"invalid resource version: {raw!r}") from None
        if match == "Exact":
            try:
                self.store.check_retained(version)
            except Expired as exc:
                raise ApiError(410, "Expired", str(exc)) from None

    def watch(
        self,
        kind: Kind,
        namespace: str | None,
        query: Query,
        client_gone: Callable[[], bool],
        cutter: Cutter,
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
        requested: float | None = None
        if query.get("timeoutSeconds"):
            try:
                requested = float(query["timeoutSeconds"]) or None  # 0 means unset
            except ValueError:
                raise bad_request("invalid timeoutSeconds") from None
        limits = self.watch_limits
        request = WatchRequest(
            plural=kind.plural,
            kind=kind.kind,
            api_version=kind.api_version,
            namespace=namespace,
            labels=labels,
            fields=fields,
            since=since,
            timeout=limits.timeout(requested),
            bookmark_interval=(
                limits.bookmark_seconds if _truthy(query.get("allowWatchBookmarks")) else None
            ),
        )
        if _truthy(query.get("sendInitialEvents")):
            return self._watch_list(kind, request, client_gone, cutter)
        return stream_events(self.store, request, client_gone, cutter)

    def _watch_list(
        self, kind: Kind, watch: WatchRequest, client_gone: Callable[[], bool], cutter: Cutter
    ) -> Iterator[Obj]:
        """`sendInitialEvents=true` (client-go's watch-list, as kubectl uses): the current
        objects as ADDED, a bookmark marking their end, then the changes after them."""
        with self.store.cond:
            rv = self.store.rv
            current = [
                clone(obj)
                for obj in self.store.snapshots(kind.plural, watch.namespace)
                if watch.labels.matches(obj["metadata"].get("labels")) and watch.fields.matches(obj)
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
        yield from stream_events(self.store, replace(watch, since=rv), client_gone, cutter)

    # ------------------------------------------------------------------ writes

    def create(self, kind: Kind, namespace: str, body: Any, dry_run: bool = False) -> Obj:
        with self.store.cond:
            home = self.store.snapshot("namespaces", "", namespace) if kind.namespaced else None
            if kind.namespaced and home is None:
                raise not_found("namespaces", namespace)
            obj = objects.prepare_create(kind, body, namespace)
            meta = obj["metadata"]
            name = meta["name"]
            if home is not None and terminating(home):
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{kind.plural} "{name}" is forbidden: unable to create new content in '
                    f"namespace {namespace} because it is being terminated",
                    {
                        "name": name,
                        "kind": kind.plural,
                        "causes": [
                            {
                                "reason": "NamespaceTerminating",
                                "message": f"namespace {namespace} is being terminated",
                                "field": "metadata.namespace",
                            }
                        ],
                    },
                )
            existing = self.store.snapshot(kind.plural, meta.get("namespace", ""), name)
            if existing is not None:
                error = already_exists(kind.plural, name, kind.group)
                if terminating(existing):  # the real server's words for a name still in use
                    error.message = f"object is being deleted: {error.message}"
                raise error
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
            if self._dry_run(query, options):
                remaining: Obj | None = obj
            else:
                remaining = self.deletion.delete(kind, obj, policy, self._grace(query, options))
        if remaining is not None:  # still there (grace period, finalizers): the object as it is
            return remaining
        if kind.plural in _RETURNS_OBJECT_ON_DELETE:
            final = clone(obj)
            final["metadata"]["resourceVersion"] = str(self.store.rv)
            return final
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
                    self.deletion.delete(kind, obj, policy, self._grace(query, options))
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
        stored = self.store.put(kind.plural, new)
        self.deletion.released(kind, stored)  # the last finalizer gone: the object goes too
        return stored

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
    def _grace(query: Query, options: Mapping[str, Any]) -> int | None:
        value = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid gracePeriodSeconds: {value!r}") from None

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
