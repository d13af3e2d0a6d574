"""Endpoints and EndpointSlices kept from each Service's selector, targetPort and pod readiness,
and the routes a node's NodePorts answer through.

As the real endpoints and endpointslice controllers do: a Service without a selector gets
neither (its Endpoints are the user's to write); a pod counts once it has an IP and is not
finished; a Ready pod is an address, a not-Ready one a `notReadyAddress` (`ready: false` in
its slice) unless the Service publishes not-ready addresses; a terminating pod (with a
`deletionTimestamp`) leaves the Endpoints and stays in its slice as `terminating`. Each
Service port's `targetPort` is resolved per pod: a number as is, a name through the pod's
container ports (a pod without that name gets no endpoint for that port). Pods whose ports
resolve alike share a subset, and a slice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .objects import KINDS, is_pod_ready, prepare_create
from .store import Expired, Store, clone

Obj = dict[str, Any]
ServiceKey = tuple[str, str]  # (namespace, name)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"  # marks controller-made Endpoints
_WATCHED = frozenset({"pods", "services", "endpoints", "endpointslices"})


class Backend(NamedTuple):
    """One pod behind one Service port, with what the emulated app in it does."""

    namespace: str
    pod: str
    uid: str
    ip: str
    node: str
    port: int  # the resolved targetPort
    image: str  # the image of the container that serves the port
    ready: bool  # its Ready condition (or the Service publishes not-ready addresses)
    terminating: bool
    listens: bool  # its app listens on `port`: declared by a container, or no port declared


class Route(NamedTuple):
    """What one NodePort forwards to: a Service port and its backends, in order."""

    service: str  # namespace/name
    port_name: str
    node_port: int
    backends: tuple[Backend, ...]

    @property
    def serving(self) -> tuple[Backend, ...]:
        """The backends traffic goes to, as kube-proxy picks them: the Ready ones that are not
        terminating; when there are none, the Ready terminating ones (so a rollout's last old
        pods still answer while they shut down). Only those whose app listens answer."""
        ready = [b for b in self.backends if b.ready and not b.terminating]
        chosen = ready or [b for b in self.backends if b.ready and b.terminating]
        return tuple(b for b in chosen if b.listens)


class _Port(NamedTuple):
    """One Service port and, per pod name, its backend (absent: the targetPort did not resolve)."""

    spec: Obj
    backends: dict[str, Backend]


RoutesCallback = Callable[[dict[int, Route]], None]


class EndpointsController:
    """Keeps Endpoints, EndpointSlices and NodePort routes in step with services and pods.

    `sync()` runs inside the emulator's controller pass, holding the store's lock. It works
    only on the Services that the events since its last pass touch (a changed Service, a
    changed pod it selects or selected, a changed object of its own), so a pass costs what
    changed, not the size of the cluster.
    """

    def __init__(self, store: Store, on_routes: RoutesCallback | None = None) -> None:
        self.store = store
        self.on_routes = on_routes
        self._seen: int | None = None  # the store's resourceVersion after our last pass
        self._members: dict[ServiceKey, frozenset[str]] = {}  # pod names behind each Service
        self._routes: dict[ServiceKey, list[Route]] = {}
        # Within one pass: each namespace's pods with an IP by label, and its managed slices
        # by Service name.
        self._pods: dict[str, dict[tuple[str, str], list[Obj]]] = {}
        self._slices: dict[str, dict[str, list[Obj]]] = {}

    def sync(self) -> None:
        services = self._touched_services()
        if services:
            try:
                for key in sorted(services):
                    self._sync_service(key)
            finally:
                self._pods.clear()
                self._slices.clear()
            if self.on_routes is not None:
                self.on_routes(self.routes())
        self._seen = self.store.rv

    def routes(self) -> dict[int, Route]:
        """Every NodePort's route, from the last pass."""
        return {route.node_port: route for routes in self._routes.values() for route in routes}

    # ------------------------------------------------------------------ what changed

    def _touched_services(self) -> set[ServiceKey]:
        if self._seen is None:
            return self._every_service()
        try:
            events = self.store.events_after(self._seen)
        except Expired:
            return self._every_service()
        touched: set[ServiceKey] = set()
        changed_pods: dict[str, list[Obj]] = {}
        for event in events:
            if event.plural not in _WATCHED:
                continue
            meta = event.obj["metadata"]
            if event.plural in ("services", "endpoints"):  # an Endpoints is named as its Service
                touched.add((event.namespace, meta["name"]))
            elif event.plural == "endpointslices":
                service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
                if service:
                    touched.add((event.namespace, service))
            else:
                changed_pods.setdefault(event.namespace, []).append(event.obj)
        for namespace, pods in changed_pods.items():
            names = {pod["metadata"]["name"] for pod in pods}
            for service in self.store.snapshots("services", namespace):
                key = (namespace, service["metadata"]["name"])
                selector = _selector(service)
                if names & self._members.get(key, frozenset()) or (
                    selector and any(_selects(selector, pod) for pod in pods)
                ):
                    touched.add(key)
        return touched

    def _every_service(self) -> set[ServiceKey]:
        keys = {
            (s["metadata"]["namespace"], s["metadata"]["name"])
            for s in self.store.snapshots("services")
        }
        keys |= {
            (e["metadata"]["namespace"], e["metadata"]["name"])
            for e in self.store.snapshots("endpoints")
            if SKIP_MIRROR_LABEL in (e["metadata"].get("labels") or {})
        }
        keys |= {
            (s["metadata"]["namespace"], s["metadata"]["labels"][SERVICE_NAME_LABEL])
            for s in self.store.snapshots("endpointslices")
            if _managed_slice(s)
        }
        return keys | set(self._routes)

    # ------------------------------------------------------------------ one service

    def _sync_service(self, key: ServiceKey) -> None:
        namespace, name = key
        service = self.store.snapshot("services", namespace, name)
        selector = _selector(service) if service is not None else None
        if service is None or selector is None:
            self._forget(key)
            return
        pods = self._selected_pods(namespace, selector)
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        ports = [_Port(spec, _backends(spec, pods, publish)) for spec in _service_ports(service)]
        self._members[key] = frozenset(p["metadata"]["name"] for p in pods)
        self._routes[key] = _routes(service, ports)
        self._write_endpoints(service, _subsets(pods, ports, publish))
        self._write_slices(service, _slices(pods, ports, publish))

    def _selected_pods(self, namespace: str, selector: dict[str, str]) -> list[Obj]:
        """The namespace's pods with an IP that `selector` selects, by name."""
        if namespace not in self._pods:
            by_label: dict[tuple[str, str], list[Obj]] = {}
            for pod in self.store.snapshots("pods", namespace):
                if _has_address(pod):
                    for label in (pod["metadata"].get("labels") or {}).items():
                        by_label.setdefault(label, []).append(pod)
            self._pods[namespace] = by_label
        by_label = self._pods[namespace]
        fewest = min((by_label.get(label, []) for label in selector.items()), key=len)
        return [pod for pod in fewest if _selects(selector, pod)]

    def _forget(self, key: ServiceKey) -> None:
        """The Service is gone or has no selector: its managed objects go too."""
        namespace, name = key
        self._members.pop(key, None)
        self._routes.pop(key, None)
        endpoints = self.store.snapshot("endpoints", namespace, name)
        if endpoints is not None and SKIP_MIRROR_LABEL in (
            endpoints["metadata"].get("labels") or {}
        ):
            self.store.delete("endpoints", namespace, name)
        for piece in self._managed_slices(namespace, name):
            self.store.delete("endpointslices", namespace, piece["metadata"]["name"])

    def _write_endpoints(self, service: Obj, subsets: list[Obj]) -> None:
        meta = service["metadata"]
        labels = {**(meta.get("labels") or {}), SKIP_MIRROR_LABEL: "true"}
        old = self.store.snapshot("endpoints", meta["namespace"], meta["name"])
        if old is None:
            body: Obj = {"metadata": {"name": meta["name"], "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            self.store.put("endpoints", prepare_create(KINDS["endpoints"], body, meta["namespace"]))
            return
        if old["metadata"].get("labels") == labels and (old.get("subsets") or []) == subsets:
            return
        new = clone(old)
        new["metadata"]["labels"] = labels
        new.pop("subsets", None)
        if subsets:
            new["subsets"] = subsets
        self.store.put("endpoints", new)

    def _write_slices(self, service: Obj, wanted: list[Obj]) -> None:
        meta = service["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        labels = {
            **(meta.get("labels") or {}),
            SERVICE_NAME_LABEL: name,
            MANAGED_BY_LABEL: MANAGED_BY,
        }
        owner = {
            "apiVersion": "v1",
            "kind": "Service",
            "name": name,
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        existing = []
        for piece in self._managed_slices(namespace, name):
            refs = piece["metadata"].get("ownerReferences") or []
            if [ref.get("uid") for ref in refs] == [meta["uid"]]:
                existing.append(piece)
            else:  # left by an earlier Service of the same name
                self.store.delete("endpointslices", namespace, piece["metadata"]["name"])
        # Keep a slice whose ports match where one exists, so updates stay updates.
        unmatched = list(existing)
        pairs: list[tuple[Obj, Obj | None]] = []
        for body in wanted:
            match = next((s for s in unmatched if s.get("ports") == body.get("ports")), None)
            if match is not None:
                unmatched.remove(match)
            pairs.append((body, match))
        pairs = [
            (body, match if match is not None else (unmatched.pop(0) if unmatched else None))
            for body, match in pairs
        ]
        for piece in unmatched:
            self.store.delete("endpointslices", namespace, piece["metadata"]["name"])
        for body, old in pairs:
            if old is None:
                created = {
                    **body,
                    "metadata": {
                        "generateName": f"{name}-",
                        "labels": labels,
                        "ownerReferences": [owner],
                    },
                }
                self._create_slice(created, namespace)
                continue
            if (
                old["metadata"].get("labels") == labels
                and old.get("endpoints") == body["endpoints"]
                and old.get("ports") == body.get("ports")
                and old.get("addressType") == body["addressType"]
            ):
                continue
            new = clone(old)
            new["metadata"]["labels"] = labels
            new.pop("ports", None)
            new.update(clone(body))
            self.store.put("endpointslices", new)

    def _create_slice(self, body: Obj, namespace: str) -> None:
        piece = prepare_create(KINDS["endpointslices"], body, namespace)
        while self.store.snapshot("endpointslices", namespace, piece["metadata"]["name"]):
            piece = prepare_create(KINDS["endpointslices"], body, namespace)
        self.store.put("endpointslices", piece)

    def _managed_slices(self, namespace: str, service: str) -> list[Obj]:
        """The slices this controller keeps for a Service, as they were when the pass began
        (a pass writes each Service's slices once, after reading them)."""
        if namespace not in self._slices:
            by_service: dict[str, list[Obj]] = {}
            for piece in self.store.snapshots("endpointslices", namespace):
                if _managed_slice(piece):
                    owner = piece["metadata"]["labels"][SERVICE_NAME_LABEL]
                    by_service.setdefault(owner, []).append(piece)
            self._slices[namespace] = by_service
        return self._slices[namespace].get(service, [])


# ---------------------------------------------------------------- pure helpers


def _selector(service: Obj | None) -> dict[str, str] | None:
    spec = (service or {}).get("spec") or {}
    selector = spec.get("selector")
    if spec.get("type") == "ExternalName" or not isinstance(selector, dict) or not selector:
        return None
    return selector


def _selects(selector: dict[str, str], pod: Obj) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def _has_address(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return bool(status.get("podIP")) and status.get("phase") not in ("Succeeded", "Failed")


def _managed_slice(piece: Obj) -> bool:
    labels = piece["metadata"].get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and SERVICE_NAME_LABEL in labels


def _service_ports(service: Obj) -> list[Obj]:
    ports = (service.get("spec") or {}).get("ports") or []
    return [port for port in ports if isinstance(port, dict)]


def _backends(spec: Obj, pods: list[Obj], publish: bool) -> dict[str, Backend]:
    found: dict[str, Backend] = {}
    for pod in pods:
        backend = _backend(spec, pod, publish)
        if backend is not None:
            found[pod["metadata"]["name"]] = backend
    return found


def _backend(port: Obj, pod: Obj, publish: bool) -> Backend | None:
    """The pod behind one Service port, or None if the port's targetPort does not resolve."""
    target = port.get("targetPort", port.get("port"))
    protocol = port.get("protocol", "TCP")
    containers = [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    declared = [
        (c, p)
        for c in containers
        for p in c.get("ports") or []
        if isinstance(p, dict) and p.get("protocol", "TCP") == protocol
    ]
    if isinstance(target, str):
        named = next(((c, p) for c, p in declared if p.get("name") == target), None)
        if named is None:
            return None
        container, number, listens = named[0], int(named[1]["containerPort"]), True
    elif isinstance(target, int) and not isinstance(target, bool):
        owner = next((c for c, p in declared if p.get("containerPort") == target), None)
        number = target
        listens = owner is not None or not any(c.get("ports") for c in containers)
        container = owner if owner is not None else (containers[0] if containers else {})
    else:
        return None
    meta, status = pod["metadata"], pod.get("status") or {}
    return Backend(
        namespace=meta["namespace"],
        pod=meta["name"],
        uid=meta["uid"],
        ip=status["podIP"],
        node=str((pod.get("spec") or {}).get("nodeName") or ""),
        port=number,
        image=str(container.get("image", "")),
        ready=publish or is_pod_ready(pod),
        terminating=bool(meta.get("deletionTimestamp")),
        listens=listens,
    )


def _endpoint_port(spec: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": spec.get("protocol", "TCP")}
    if spec.get("name"):
        port["name"] = spec["name"]
    if spec.get("appProtocol"):
        port["appProtocol"] = spec["appProtocol"]
    return port


def _groups(pods: list[Obj], ports: list[_Port]) -> list[tuple[list[Obj], list[Obj]]]:
    """Pods grouped by how the Service's ports resolve for them: (pods, endpoint ports).

    With ports, a pod for which none resolves is left out; without ports every pod counts.
    """
    groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        resolved = [
            _endpoint_port(port.spec, port.backends[name].port)
            for port in ports
            if name in port.backends
        ]
        if ports and not resolved:
            continue
        signature = repr(resolved)
        groups.setdefault(signature, ([], resolved))[0].append(pod)
    return [groups[signature] for signature in sorted(groups)]


def _target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]}


def _subsets(pods: list[Obj], ports: list[_Port], publish: bool) -> list[Obj]:
    subsets = []
    for group, endpoint_ports in _groups(pods, ports):
        ready: list[Obj] = []
        not_ready: list[Obj] = []
        for pod in group:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            address = {
                "ip": pod["status"]["podIP"],
                "nodeName": (pod.get("spec") or {}).get("nodeName"),
                "targetRef": _target_ref(pod),
            }
            (ready if publish or is_pod_ready(pod) else not_ready).append(address)
        if not ready and not not_ready:
            continue
        subset: Obj = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if endpoint_ports:
            subset["ports"] = endpoint_ports
        subsets.append(subset)
    return subsets


def _slices(pods: list[Obj], ports: list[_Port], publish: bool) -> list[Obj]:
    """Slice bodies (without metadata); one placeholder without endpoints when none."""
    bodies = []
    for group, endpoint_ports in _groups(pods, ports):
        endpoints = []
        for pod in group:
            ready = is_pod_ready(pod)
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            endpoint: Obj = {
                "addresses": [pod["status"]["podIP"]],
                "conditions": {
                    "ready": (publish or ready) and not terminating,
                    "serving": publish or ready,
                    "terminating": terminating,
                },
                "targetRef": _target_ref(pod),
            }
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                endpoint["nodeName"] = node
            endpoints.append(endpoint)
        body: Obj = {"addressType": "IPv4", "endpoints": endpoints}
        if endpoint_ports:
            body["ports"] = endpoint_ports
        bodies.append(body)
    return bodies or [{"addressType": "IPv4", "endpoints": []}]


def _routes(service: Obj, ports: list[_Port]) -> list[Route]:
    meta = service["metadata"]
    return [
        Route(
            service=f"{meta['namespace']}/{meta['name']}",
            port_name=str(port.spec.get("name") or ""),
            node_port=int(port.spec["nodePort"]),
            backends=tuple(port.backends[name] for name in sorted(port.backends)),
        )
        for port in ports
        if isinstance(port.spec.get("nodePort"), int) and port.spec.get("protocol", "TCP") == "TCP"
    ]
