"""Resource kinds, and the defaulting, validation and status shapes of each kind's objects."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request, invalid
from .selectors import (
    SelectorError,
    label_selector_from_object,
    valid_label_key,
    valid_label_value,
)
from .store import clone

Obj = dict[str, Any]

NODE_NAME = "sandbox-node"
NODE_IP = "127.0.0.1"
KUBE_VERSION = "v1.37.0"
TEMPLATE_HASH_ANNOTATION = "sandbox.bluegreen-hooks/template-hash"
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generateName


@dataclass(frozen=True)
class Kind:
    """A served resource: where it lives in the URL space and what its objects are called."""

    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    has_status: bool  # whether the main resource ignores status writes (status subresource)
    tracks_generation: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


KINDS: dict[str, Kind] = {
    k.plural: k
    for k in (
        Kind("pods", "Pod", "", "v1", True, True, True),
        Kind("services", "Service", "", "v1", True, True, False),
        Kind("replicationcontrollers", "ReplicationController", "", "v1", True, True, True),
        Kind("namespaces", "Namespace", "", "v1", False, True, False),
        Kind("nodes", "Node", "", "v1", False, True, False),
        Kind("deployments", "Deployment", "apps", "v1", True, True, True),
        Kind("leases", "Lease", "coordination.k8s.io", "v1", True, False, False),
        Kind("endpoints", "Endpoints", "", "v1", True, False, False),
        Kind("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1", True, False, False),
    )
}


def find_kind(group: str, version: str, plural: str) -> Kind | None:
    kind = KINDS.get(plural)
    if kind is None or kind.group != group or kind.version != version:
        return None
    return kind


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(length))


def template_hash(template: Obj) -> str:
    """A stable short hash of a pod template, to tell which pods a Deployment must replace."""
    encoded = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:10]


def owner_uid(obj: Obj) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


# ---------------------------------------------------------------- create / update preparation


def prepare_create(kind: Kind, body: Obj, namespace: str) -> Obj:
    """Default and validate a new object (without resourceVersion); raises ApiError."""
    obj = _check_envelope(kind, body)
    meta = obj["metadata"]
    if not meta.get("name"):
        if not meta.get("generateName"):
            raise invalid(
                kind.kind,
                "",
                [("metadata.name", "Required value: name or generateName is required")],
            )
        meta["name"] = meta["generateName"] + random_suffix()
    if kind.namespaced:
        if meta.get("namespace") not in (None, "", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    if kind.tracks_generation:
        meta["generation"] = 1
    _DEFAULTERS.get(kind.plural, _no_defaults)(obj)
    validate(kind, obj)
    return obj


def prepare_update(kind: Kind, old: Obj, body: Obj, subresource: str = "") -> Obj:
    """Merge a replacement body with the system-owned parts of `old`; raises ApiError.

    With a status subresource the main resource keeps the old status and `/status` keeps the
    old spec, like the real server. The caller checks resourceVersion preconditions.
    """
    new = _check_envelope(kind, body)
    meta, old_meta = new["metadata"], old["metadata"]
    name = old_meta["name"]
    if meta.get("name", name) != name:
        raise bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL "
            f"({name})"
        )
    if meta.get("uid") not in (None, old_meta["uid"]):
        raise ApiError(
            409,
            "Conflict",
            f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
            f"{old_meta['uid']}",
        )
    if kind.namespaced and meta.get("namespace") not in (None, "", old_meta["namespace"]):
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    for key in ("name", "namespace", "uid", "creationTimestamp", "generation"):
        if key in old_meta:
            meta[key] = old_meta[key]
    meta.setdefault("resourceVersion", None)
    if subresource == "status":
        for key in list(new):
            if key not in ("apiVersion", "kind", "metadata", "status"):
                del new[key]
        for key in ("spec", "data"):
            if key in old:
                new[key] = copy.deepcopy(old[key])
        new["metadata"] = {**copy.deepcopy(old_meta), "resourceVersion": meta["resourceVersion"]}
    elif kind.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    _DEFAULTERS.get(kind.plural, _no_defaults)(new)
    if kind.tracks_generation and new.get("spec") != old.get("spec"):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1
    validate(kind, new)
    if kind.plural == "deployments" and new["spec"].get("selector") != old["spec"]["selector"]:
        raise invalid(
            "Deployment", name, [("spec.selector", "Invalid value: field is immutable")], "apps"
        )
    return new


def _check_envelope(kind: Kind, body: Any) -> Obj:
    if not isinstance(body, dict):
        raise bad_request(f"the body of the request is not a {kind.kind} object")
    obj = clone(body)
    if obj.get("apiVersion") not in (None, "", kind.api_version):
        raise bad_request(
            f"the API version in the data ({obj['apiVersion']}) does not match the expected API "
            f"version ({kind.api_version})"
        )
    if obj.get("kind") not in (None, "", kind.kind):
        raise bad_request(f"the kind in the data ({obj['kind']}) does not match {kind.kind}")
    obj["apiVersion"] = kind.api_version
    obj["kind"] = kind.kind
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    return obj


# ---------------------------------------------------------------- defaulting


def _no_defaults(obj: Obj) -> None:
    pass


def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            tag = str(container.get("image", "")).rpartition(":")[2]
            pull = "Always" if tag in ("latest", container.get("image")) else "IfNotPresent"
            container.setdefault("imagePullPolicy", pull)
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _default_pod(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    _default_pod_spec(spec)
    spec.setdefault("nodeName", NODE_NAME)  # scheduled at once onto the only node
    if "status" not in obj:
        obj["status"] = pending_pod_status()


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        _default_pod_spec(template.setdefault("spec", {}))


def _default_rc(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("minReadySeconds", 0)
    _default_template(spec)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if not spec.get("selector") and template_labels:
        spec["selector"] = dict(template_labels)
    if not obj["metadata"].get("labels") and template_labels:
        obj["metadata"]["labels"] = dict(template_labels)
    obj.setdefault("status", {"replicas": 0})


def _default_deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)
    obj.setdefault("status", {})


def _default_service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    obj.setdefault("status", {"loadBalancer": {}})


def _default_namespace(obj: Obj) -> None:
    name = obj["metadata"].get("name")
    if name:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    obj.setdefault("status", {"phase": "Active"})


_DEFAULTERS = {
    "pods": _default_pod,
    "replicationcontrollers": _default_rc,
    "deployments": _default_deployment,
    "services": _default_service,
    "namespaces": _default_namespace,
}


# ---------------------------------------------------------------- validation


def validate(kind: Kind, obj: Obj) -> None:
    """Raise a 422 listing what is wrong with `obj`, if anything."""
    meta = obj["metadata"]
    name = str(meta.get("name", ""))
    causes: list[tuple[str, str]] = []
    if kind.plural == "services":
        pattern, limit, what = _DNS_1035_LABEL, 63, "a DNS-1035 label"
    elif kind.plural == "namespaces":
        pattern, limit, what = _DNS_LABEL, 63, "a lowercase RFC 1123 label"
    else:
        pattern, limit, what = _DNS_SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain"
    if not isinstance(meta.get("name"), str) or len(name) > limit or not pattern.fullmatch(name):
        causes.append(("metadata.name", f"Invalid value: {name!r}: must be {what}"))
    causes += _label_causes("metadata.labels", meta.get("labels"))
    spec = obj.get("spec")
    if kind.plural == "pods":
        causes += _pod_spec_causes("spec", spec)
    elif kind.plural == "replicationcontrollers":
        causes += _workload_causes(obj, rc=True)
    elif kind.plural == "deployments":
        causes += _workload_causes(obj, rc=False)
    if causes:
        raise invalid(kind.kind, name, causes, kind.group)


def _label_causes(field: str, labels: Any) -> list[tuple[str, str]]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [(field, "Invalid value: must be a map of strings")]
    causes = []
    for key, value in labels.items():
        if not valid_label_key(key):
            causes.append(
                (
                    field,
                    f"Invalid value: {key!r}: name part must consist of "
                    "alphanumeric characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str) or not valid_label_value(value):
            causes.append(
                (
                    f"{field}",
                    f"Invalid value: {value!r}: a valid label must be an "
                    "empty string or consist of alphanumeric characters",
                )
            )
    return causes


def _pod_spec_causes(field: str, spec: Any) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return [(field, "Required value")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{field}.containers", "Required value")]
    causes = []
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("name"):
            causes.append((f"{field}.containers[{i}].name", "Required value"))
        elif not container.get("image"):
            causes.append((f"{field}.containers[{i}].image", "Required value"))
    return causes


def _workload_causes(obj: Obj, rc: bool) -> list[tuple[str, str]]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: list[tuple[str, str]] = []
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be >= 0"))
    template = spec.get("template")
    if not isinstance(template, dict):
        return [*causes, ("spec.template", "Required value")]
    labels = (template.get("metadata") or {}).get("labels") or {}
    causes += _label_causes("spec.template.metadata.labels", labels)
    causes += _pod_spec_causes("spec.template.spec", template.get("spec"))
    selector = spec.get("selector")
    if rc:
        matches = (
            isinstance(selector, dict)
            and bool(selector)
            and all(labels.get(k) == v for k, v in selector.items())
        )
        if not selector:
            causes.append(("spec.selector", "Required value"))
    else:
        if not isinstance(selector, dict) or not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        ):
            return [*causes, ("spec.selector", "Required value: empty selector is invalid")]
        try:
            matches = label_selector_from_object(selector).matches(labels)
        except SelectorError as exc:
            return [*causes, ("spec.selector", f"Invalid value: {exc}")]
    if not matches:
        causes.append(
            (
                "spec.template.metadata.labels",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        )
    return causes


# ---------------------------------------------------------------- status shapes


def pending_pod_status() -> Obj:
    return {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        ],
        "qosClass": "BestEffort",
    }


def running_pod_status(pod: Obj, pod_ip: str, ready: bool, host_ip: str = NODE_IP) -> Obj:
    """Status of a pod whose containers all started; `ready` False models a failing probe;
    `host_ip` is its node's InternalIP."""
    now = now_rfc3339()
    containers = pod["spec"].get("containers") or []
    flag = "True" if ready else "False"
    conditions: list[Obj] = []
    for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"):
        condition: Obj = {
            "type": kind,
            "status": flag if kind in ("Ready", "ContainersReady") else "True",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        if not ready and kind in ("Ready", "ContainersReady"):
            names = " ".join(c["name"] for c in containers)
            condition["reason"] = "ContainersNotReady"
            condition["message"] = f"containers with unready status: [{names}]"
        conditions.append(condition)
    conditions += [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": now,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": f"sandbox.local/{c['image']}@sha256:"
                + hashlib.sha256(str(c["image"]).encode()).hexdigest(),
                "containerID": "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex,
                "ready": ready,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
                "lastState": {},
            }
            for c in containers
        ],
    }


def is_pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def initial_objects(node_address: str = NODE_IP) -> list[tuple[Kind, Obj]]:
    """The objects a fresh cluster has: namespaces default/kube-system/kube-public and a node
    whose InternalIP is `node_address`."""
    objects: list[tuple[Kind, Obj]] = [
        (KINDS["namespaces"], {"metadata": {"name": name}})
        for name in ("default", "kube-system", "kube-public")
    ]
    now = now_rfc3339()
    node: Obj = {
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": node_address},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(uuid.uuid4()),
                "containerRuntimeVersion": "containerd://2.1.0",
                "kernelVersion": "6.8.0",
                "kubeProxyVersion": KUBE_VERSION,
                "kubeletVersion": KUBE_VERSION,
                "machineID": uuid.uuid4().hex,
                "operatingSystem": "linux",
                "osImage": "bluegreen-hooks sandbox",
                "systemUUID": str(uuid.uuid4()),
            },
        },
    }
    objects.append((KINDS["nodes"], node))
    return objects
