"""Discovery documents: /version, /api, /apis and the per-group resource lists."""

from __future__ import annotations

from typing import Any

from .objects import KINDS, KUBE_VERSION

Obj = dict[str, Any]

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SHORT_NAMES = {
    "pods": ["po"],
    "services": ["svc"],
    "replicationcontrollers": ["rc"],
    "namespaces": ["ns"],
    "nodes": ["no"],
    "endpoints": ["ep"],
    "deployments": ["deploy"],
}


def version() -> Obj:
    major, minor, _patch = KUBE_VERSION.lstrip("v").split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBE_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def groups() -> Obj:
    names = sorted({k.group for k in KINDS.values() if k.group})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [{"groupVersion": f"{name}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{name}/v1", "version": "v1"},
            }
            for name in names
        ],
    }


def resources(group: str, version: str) -> Obj | None:
    """The APIResourceList of one group/version, or None if it is not served."""
    kinds = [k for k in KINDS.values() if k.group == group and k.version == version]
    if not kinds:
        return None
    listed: list[Obj] = []
    for kind in kinds:
        entry: Obj = {
            "name": kind.plural,
            "singularName": kind.kind.lower(),
            "namespaced": kind.namespaced,
            "kind": kind.kind,
            "verbs": _VERBS,
        }
        if kind.plural in _SHORT_NAMES:
            entry["shortNames"] = _SHORT_NAMES[kind.plural]
        listed.append(entry)
        if kind.has_status:
            listed.append(
                {
                    "name": f"{kind.plural}/status",
                    "singularName": "",
                    "namespaced": kind.namespaced,
                    "kind": kind.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": listed,
    }
