"""Taking over an app the seed's scripts deployed: objects named as ours, without our labels.

The scripts created `<app>-<color>` Services and ReplicationControllers with labels of their
own. On the first deploy, what carries the idle color is replaced (nothing routes to it),
and the live color's workload is only labelled, so `status` and `rollback` see it: its spec
and pods are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from bluegreen_hooks.colors import Color
from bluegreen_hooks.errors import DeployFailed
from bluegreen_hooks.templates import WORKLOAD_KINDS, Manifest

Action = Literal["replace", "label"]


@dataclass(frozen=True)
class Adoption:
    """One object to take over, and how."""

    kind: str
    name: str
    color: Color
    action: Action
    reason: str

    def describe(self) -> str:
        return f"{self.action} {self.kind} {self.name} ({self.color}): {self.reason}"


def decide(
    unlabelled: Mapping[tuple[str, str], Manifest],
    *,
    idle: tuple[Color, Iterable[Manifest]],
    live: tuple[Color, Iterable[Manifest]],
    live_port: int,
) -> list[Adoption]:
    """What to do with each unlabelled object that bears the name of one of our manifests.

    Raises DeployFailed, touching nothing, when an idle-named object carries live traffic.
    """
    idle_color, idle_manifests = idle
    live_color, live_manifests = live
    live_selectors = [
        selector
        for service in _of_kind(unlabelled, "Service")
        if live_port in _node_ports(service)
        and isinstance(selector := (service.get("spec") or {}).get("selector"), dict)
        and selector
    ]
    adoptions: list[Adoption] = []
    for manifest in idle_manifests:
        for kind, found in _namesakes(unlabelled, manifest):
            _refuse_if_live(found, kind, live_port, live_selectors)
            adoptions.append(_replace(kind, found, idle_color))
    for manifest in live_manifests:
        for kind, found in _namesakes(unlabelled, manifest):
            if kind in WORKLOAD_KINDS:
                adoptions.append(
                    Adoption(
                        kind,
                        found["metadata"]["name"],
                        live_color,
                        "label",
                        "live color, left without our labels: labelled so status and "
                        "rollback see it; its spec and pods stay as they are",
                    )
                )
    return adoptions


def _namesakes(
    unlabelled: Mapping[tuple[str, str], Manifest], manifest: Manifest
) -> list[tuple[str, Manifest]]:
    """Unlabelled objects bearing the manifest's name: of its kind, or for a workload of
    either workload kind (the scripts made ReplicationControllers; templates may now hold a
    Deployment of the same name)."""
    kinds = sorted(WORKLOAD_KINDS) if manifest["kind"] in WORKLOAD_KINDS else [manifest["kind"]]
    name = manifest["metadata"]["name"]
    return [(kind, unlabelled[kind, name]) for kind in kinds if (kind, name) in unlabelled]


def _replace(kind: str, found: Manifest, color: Color) -> Adoption:
    what = "nothing routes to it" if kind == "Service" else "its pods serve no traffic"
    return Adoption(
        kind,
        found["metadata"]["name"],
        color,
        "replace",
        f"idle color, left without our labels ({what}): deleted, then created from the templates",
    )


def _refuse_if_live(
    found: Manifest, kind: str, live_port: int, live_selectors: list[dict[str, str]]
) -> None:
    name = found["metadata"]["name"]
    if kind == "Service" and live_port in _node_ports(found):
        carries = f"holds the live port {live_port}"
    elif kind in WORKLOAD_KINDS and any(_selects(s, _pod_labels(found)) for s in live_selectors):
        carries = f"runs pods the Service on the live port {live_port} sends traffic to"
    else:
        return
    raise DeployFailed(
        f"{kind} {name} has the idle color's name but {carries}; replacing it would cut "
        "live traffic",
        hint=f"rename or remove {kind} {name} by hand once nothing routes to it, then deploy",
    )


def _of_kind(objects: Mapping[tuple[str, str], Manifest], kind: str) -> list[Manifest]:
    return [obj for (k, _), obj in objects.items() if k == kind]


def _node_ports(service: Manifest) -> set[int]:
    ports = (service.get("spec") or {}).get("ports") or []
    return {p["nodePort"] for p in ports if isinstance(p, dict) and "nodePort" in p}


def _pod_labels(workload: Manifest) -> dict[str, str]:
    template = (workload.get("spec") or {}).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    return dict(labels)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())
