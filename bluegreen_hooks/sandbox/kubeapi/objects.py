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
from datetime import datetime
from typing import Any

from .errors import ApiError, bad_request, invalid, undecodable
from .selectors import (
    SelectorError,
    label_selector_from_object,
    valid_label_key,
    valid_label_value,
)
from .services import service_causes
from .store import clone

Obj = dict[str, Any]

NODE_NAME = "sandbox-node"
NODE_IP = "127.0.0.1"
KUBE_VERSION = "v1.37.0"
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
        Kind("replicasets", "ReplicaSet", "apps", "v1", True, True, True),
        Kind("leases", "Lease", "coordination.k8s.io", "v1", True, False, False),
        Kind("events", "Event", "", "v1", True, False, False),
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


def rfc3339(seconds: float) -> str:
    """An epoch time as the API writes times (whole seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(length))


def template_hash(template: Obj) -> str:
    """A pod template's `pod-template-hash`: stable, 10 characters of the alphabet Kubernetes
    uses for it, so ReplicaSet names look like the real ones."""
    encoded = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    number = int.from_bytes(hashlib.sha256(encoded).digest()[:8], "big")
    letters = []
    for _ in range(10):
        number, index = divmod(number, len(_SUFFIX_ALPHABET))
        letters.append(_SUFFIX_ALPHABET[index])
    return "".join(letters)


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
    if kind.has_status and kind.plural != "nodes":  # the server owns status (kubectl sends {})
        obj.pop("status", None)
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
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):  # only DELETE sets these
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
    if old_meta.get("deletionTimestamp") and added and subresource != "status":
        raise invalid(
            kind.kind,
            name,
            [
                (
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)!r}",
                )
            ],
            kind.group,
        )
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
    if kind.plural in ("deployments", "replicasets") and new["spec"].get("selector") != old[
        "spec"
    ].get("selector"):
        raise invalid(
            kind.kind, name, [("spec.selector", "Invalid value: field is immutable")], "apps"
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
    if kind.plural == "leases":
        _decode_lease(kind, obj.get("spec"))
    return obj


_MICRO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})")
_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
_GO_TYPES = {bool: "bool", int: "number", float: "number", str: "string", list: "array"}


def _decode_lease(kind: Kind, spec: Any) -> None:
    """What decoding JSON into a LeaseSpec refuses (400): wrong types, times that are not
    RFC 3339 with microseconds (metav1.MicroTime)."""
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise undecodable(kind.kind, kind.version, _go_type_error(spec, "spec", "v1.LeaseSpec"))
    fields = {
        "holderIdentity": str,
        "leaseDurationSeconds": int,
        "leaseTransitions": int,
        "strategy": str,
        "preferredHolder": str,
    }
    for field, wanted in fields.items():
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, wanted) or isinstance(value, bool):
            go_type = "string" if wanted is str else "int32"
            raise undecodable(
                kind.kind,
                kind.version,
                _go_type_error(value, f"spec.{field}", go_type, "LeaseSpec"),
            )
    for field in ("acquireTime", "renewTime"):
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not _is_micro_time(value):
            shown = json.dumps(value) if isinstance(value, str) else str(value)
            raise undecodable(
                kind.kind,
                kind.version,
                f'parsing time {shown} as "{_MICRO_LAYOUT}": cannot parse {shown} as '
                f'"{_MICRO_LAYOUT}"',
            )


def _is_micro_time(value: str) -> bool:
    if not _MICRO_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _go_type_error(value: Any, field: str, go_type: str, struct: str = "") -> str:
    got = _GO_TYPES.get(type(value), "object")
    where = f"Go struct field {struct}.{field}" if struct else f"Go value {field}"
    return f"json: cannot unmarshal {got} into {where} of type {go_type}"


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


def _default_replicaset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("minReadySeconds", 0)
    _default_template(spec)
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
    "replicasets": _default_replicaset,
    "services": _default_service,
    "namespaces": _default_namespace,
}


# ---------------------------------------------------------------- validation


_NAME_RULES = {
    # plural: (pattern, max length, what kube-apiserver calls it)
    "services": (_DNS_1035_LABEL, 63, "a DNS-1035 label"),
    "namespaces": (_DNS_LABEL, 63, "a lowercase RFC 1123 label"),
}
_NAME_EXPLAINED = {
    "a DNS-1035 label": (
        "must consist of lower case alphanumeric characters or '-', start with an "
        "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ),
    "a lowercase RFC 1123 label": (
        "must consist of lower case alphanumeric characters or '-', and must start and end "
        "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ),
    "a lowercase RFC 1123 subdomain": (
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'example.com', regex used for validation "
        "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ),
}
_ANNOTATIONS_MAX_BYTES = 256 * 1024


def validate(kind: Kind, obj: Obj) -> None:
    """Raise a 422 listing what is wrong with `obj`, if anything."""
    meta = obj["metadata"]
    name = str(meta.get("name", ""))
    causes = _name_causes(kind, meta.get("name"))
    causes += _label_causes("metadata.labels", meta.get("labels"))
    causes += _annotation_causes(meta.get("annotations"))
    spec = obj.get("spec")
    if kind.plural == "pods":
        causes += _pod_spec_causes("spec", spec)
    elif kind.plural == "replicationcontrollers":
        causes += _workload_causes(obj, rc=True)
    elif kind.plural in ("deployments", "replicasets"):
        causes += _workload_causes(obj, rc=False)
    elif kind.plural == "services":
        causes += service_causes(spec)
        if isinstance(spec, dict):
            causes += _label_causes("spec.selector", spec.get("selector"))
    elif kind.plural == "leases":
        causes += _lease_causes(spec)
    if kind.plural == "deployments":
        causes += _strategy_causes(obj.get("spec"))
    if causes:
        raise invalid(kind.kind, name, causes, kind.group)


def _name_causes(kind: Kind, name: Any) -> list[tuple[str, str]]:
    pattern, limit, what = _NAME_RULES.get(
        kind.plural, (_DNS_SUBDOMAIN, 253, "a lowercase RFC 1123 subdomain")
    )
    if not isinstance(name, str) or not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if len(name) > limit:
        return [
            (
                "metadata.name",
                f'Invalid value: "{name}": must be no more than {limit} characters',
            )
        ]
    if not pattern.fullmatch(name):
        return [("metadata.name", f'Invalid value: "{name}": {what} {_NAME_EXPLAINED[what]}')]
    return []


def _annotation_causes(annotations: Any) -> list[tuple[str, str]]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [("metadata.annotations", "Invalid value: must be a map of strings")]
    causes: list[tuple[str, str]] = []
    size = 0
    for key, value in annotations.items():
        if not valid_label_key(key):
            causes.append(
                (
                    "metadata.annotations",
                    f'Invalid value: "{key}": name part must consist of alphanumeric '
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character",
                )
            )
        size += len(str(key)) + len(str(value))
    if size > _ANNOTATIONS_MAX_BYTES:
        causes.append(
            (
                "metadata.annotations",
                f"Too long: must have at most {_ANNOTATIONS_MAX_BYTES} bytes",
            )
        )
    return causes


def _lease_causes(spec: Any) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return []
    causes: list[tuple[str, str]] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(
            ("spec.leaseDurationSeconds", f"Invalid value: {duration}: must be greater than 0")
        )
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(
            (
                "spec.leaseTransitions",
                f"Invalid value: {transitions}: must be greater than or equal to 0",
            )
        )
    return causes


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
                    f'Invalid value: "{key}": name part must consist of alphanumeric '
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                )
            )
        if not isinstance(value, str) or not valid_label_value(value):
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            causes.append(
                (
                    field,
                    f"Invalid value: {shown}: a valid label must be an empty string or consist "
                    "of alphanumeric characters, '-', '_' or '.', and must start and end with "
                    "an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
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


def _strategy_causes(spec: Any) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return []
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type")
    field = "spec.strategy"
    if kind not in ("RollingUpdate", "Recreate"):
        return [
            (
                f"{field}.type",
                f'Unsupported value: {kind!r}: supported values: "Recreate", "RollingUpdate"',
            )
        ]
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [
                (
                    f"{field}.rollingUpdate",
                    "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    causes: list[tuple[str, str]] = []
    values = {}
    for key in ("maxSurge", "maxUnavailable"):
        value = (rolling or {}).get(key, "25%")
        values[key] = value
        if not _int_or_percent(value):
            causes.append(
                (
                    f"{field}.rollingUpdate.{key}",
                    f"Invalid value: {value!r}: must be an integer >= 0 or a percentage",
                )
            )
    if not causes and all(str(v) in ("0", "0%") for v in values.values()):
        causes.append(
            (
                f"{field}.rollingUpdate.maxUnavailable",
                "Invalid value: 0: may not be 0 when `maxSurge` is 0",
            )
        )
    return causes


def _int_or_percent(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and re.fullmatch(r"[0-9]+%", value) is not None


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
