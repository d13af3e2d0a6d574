"""OpenAPI v3 documents for the served kinds, built from the official client's model classes.

kubectl reads them to learn that the server validates fields itself (`fieldValidation` on each
PATCH), to compute client-side apply patches (the `x-kubernetes-patch-*` extensions) and for
`kubectl explain`. OpenAPI v2 is not served: kubectl only reads it as protobuf, and it falls
back to it only when v3 is missing.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
import typing
from typing import Any

from .objects import KINDS, KUBE_VERSION, Kind

Obj = dict[str, Any]

_REF = "#/components/schemas/"
_META_PACKAGE = "io.k8s.apimachinery.pkg.apis.meta.v1"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_META_TYPES = frozenset(
    {
        "ObjectMeta",
        "ListMeta",
        "LabelSelector",
        "LabelSelectorRequirement",
        "ManagedFieldsEntry",
        "OwnerReference",
        "Condition",
    }
)
# Lists a strategic merge patch merges element by element: (model, field) -> merge key,
# as the real schema declares them (the client's models do not carry these extensions).
_PATCH_MERGE_KEYS = {
    ("V1PodSpec", "containers"): "name",
    ("V1PodSpec", "initContainers"): "name",
    ("V1PodSpec", "ephemeralContainers"): "name",
    ("V1PodSpec", "volumes"): "name",
    ("V1PodSpec", "imagePullSecrets"): "name",
    ("V1PodSpec", "hostAliases"): "ip",
    ("V1Container", "env"): "name",
    ("V1Container", "ports"): "containerPort",
    ("V1Container", "volumeMounts"): "mountPath",
    ("V1ServiceSpec", "ports"): "port",
    ("V1ObjectMeta", "ownerReferences"): "uid",
    ("V1PodStatus", "conditions"): "type",
    ("V1DeploymentStatus", "conditions"): "type",
    ("V1ReplicationControllerStatus", "conditions"): "type",
    ("V1ReplicaSetStatus", "conditions"): "type",
    ("V1NodeStatus", "conditions"): "type",
    ("V1NodeStatus", "addresses"): "type",
}
_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def _client() -> Any:
    """The official client's models, imported on the first OpenAPI request only (over a
    second), so the emulator starts without them."""
    from kubernetes import client

    return client


def model_class(kind: Kind) -> type[Any] | None:
    """The client's model of a kind (`V1Pod`, `CoreV1Event`, ...), if it has one."""
    client = _client()
    prefix = kind.version.capitalize()
    group = (kind.group.split(".")[0] or "core").capitalize()
    for name in (f"{prefix}{kind.kind}", f"{group}{prefix}{kind.kind}"):
        model = getattr(client, name, None)
        if isinstance(model, type) and hasattr(model, "openapi_types"):
            return model
    return None


def _description(model: type[Any]) -> str:
    text = inspect.cleandoc(model.__doc__ or "")
    return text.split("Attributes:")[0].strip()


class _SchemaBuilder:
    """Turns model classes into OpenAPI v3 component schemas, named like the real server's."""

    def __init__(self) -> None:
        self.schemas: dict[str, Obj] = {}
        self._names: dict[str, str] = {}  # model class name -> schema name

    def add_kind(self, kind: Kind) -> str:
        """The schema name of a kind (and its List), with the GVK extension kubectl looks for."""
        gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}
        model = model_class(kind)
        package = self._package(kind.group)
        if model is None:
            name = f"{package}.{kind.kind}"
            self.schemas[name] = {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": [gvk],
            }
        else:
            name = self._model(model.__name__, package)
            self.schemas[name]["x-kubernetes-group-version-kind"] = [gvk]
        list_name = f"{name}List"
        self.schemas[list_name] = {
            "description": f"{kind.list_kind} is a list of {kind.kind} objects.",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": self._ref(self._model("V1ListMeta", _META_PACKAGE)),
                "items": {"type": "array", "items": self._ref(name)},
            },
            "x-kubernetes-group-version-kind": [{**gvk, "kind": kind.list_kind}],
        }
        return name

    @staticmethod
    def _package(group: str) -> str:
        return f"io.k8s.api.{group.split('.')[0] or 'core'}.v1"

    @staticmethod
    def _ref(name: str, description: str | None = None) -> Obj:
        schema: Obj = {"allOf": [{"$ref": _REF + name}], "default": {}}
        if description:
            schema["description"] = description
        return schema

    def _model(self, class_name: str, package: str) -> str:
        if class_name in self._names:
            return self._names[class_name]
        short = re.sub(r"^(Core|Apps|Coordination)?V\d+((alpha|beta)\d+)?", "", class_name)
        name = f"{_META_PACKAGE if short in _META_TYPES else package}.{short}"
        self._names[class_name] = name
        model = getattr(_client(), class_name)
        schema: Obj = {"description": _description(model), "type": "object"}
        self.schemas[name] = schema  # before the fields, so recursive models terminate
        properties: Obj = {}
        required: list[str] = []
        fields = {f.serialization_alias or n: f for n, f in model.model_fields.items()}
        for attribute, type_name in model.openapi_types.items():
            json_name = model.attribute_map[attribute]
            field = fields[json_name]
            prop = self._type(type_name, field.annotation, package, field.description)
            merge_key = _PATCH_MERGE_KEYS.get((class_name, json_name))
            if merge_key is not None:
                prop["x-kubernetes-patch-merge-key"] = merge_key
                prop["x-kubernetes-patch-strategy"] = "merge"
            elif class_name == "V1ObjectMeta" and json_name == "finalizers":
                prop["x-kubernetes-patch-strategy"] = "merge"
            properties[json_name] = prop
            if field.is_required():
                required.append(json_name)
        schema["properties"] = properties
        if required:
            schema["required"] = required
        return name

    def _type(self, type_name: str, annotation: Any, package: str, description: str | None) -> Obj:
        schema = self._bare_type(type_name, annotation, package)
        if description:
            schema["description"] = description
        return schema

    def _bare_type(self, type_name: str, annotation: Any, package: str) -> Obj:
        simple = {
            "str": {"type": "string"},
            "int": {"type": "integer", "format": "int64"},
            "float": {"type": "number", "format": "double"},
            "bool": {"type": "boolean"},
            "datetime": {"type": "string", "format": "date-time"},
            "bytes": {"type": "string", "format": "byte"},
        }
        if type_name in simple:
            return dict(simple[type_name])
        if type_name == "object":
            if _int_or_string(annotation):
                self.schemas.setdefault(
                    _INT_OR_STRING,
                    {
                        "description": "IntOrString is a type that can hold an int32 or a string.",
                        "type": "string",
                        "format": "int-or-string",
                    },
                )
                return self._ref(_INT_OR_STRING)
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        inner = re.fullmatch(r"List\[(.+)\]", type_name)
        if inner:
            return {"type": "array", "items": self._bare_type(inner[1], None, package)}
        inner = re.fullmatch(r"Dict\[str, (.+)\]", type_name)
        if inner:
            return {
                "type": "object",
                "additionalProperties": self._bare_type(inner[1], None, package),
            }
        return self._ref(self._model(type_name, package))


def _int_or_string(annotation: Any) -> bool:
    found: set[Any] = set()

    def walk(node: Any) -> None:
        args = typing.get_args(node)
        if typing.get_origin(node) is typing.Annotated:
            found.add(args[0])
            return
        if not args:
            found.add(node)
        for arg in args:
            walk(arg)

    walk(annotation)
    return int in found and str in found


def _path_prefix(kind: Kind) -> str:
    return f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"


def _parameter(name: str, location: str = "query") -> Obj:
    return {
        "name": name,
        "in": location,
        "required": location == "path",
        "schema": {"type": "string", "uniqueItems": True},
    }


def _operation(kind: Kind, action: str, schema: str, writes: bool) -> Obj:
    operation: Obj = {
        "operationId": f"{action}{kind.kind}",
        "parameters": [_parameter(p) for p in _WRITE_PARAMETERS] if writes else [],
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": _REF + schema}}},
            }
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": kind.group,
            "version": kind.version,
            "kind": kind.kind,
        },
    }
    if action == "patch":  # kubectl apply picks its patch type from this list
        operation["requestBody"] = {
            "content": {media_type: {"schema": {"type": "object"}} for media_type in _PATCH_TYPES},
            "required": True,
        }
    elif writes and action != "delete":
        operation["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": _REF + schema}}},
            "required": True,
        }
    return operation


def _paths(kind: Kind, schema: str) -> Obj:
    scope = "/namespaces/{namespace}" if kind.namespaced else ""
    collection = f"{_path_prefix(kind)}{scope}/{kind.plural}"
    path_parameters = [_parameter("namespace", "path")] if kind.namespaced else []
    return {
        collection: {
            "parameters": path_parameters,
            "get": _operation(kind, "list", f"{schema}List", writes=False),
            "post": _operation(kind, "post", schema, writes=True),
        },
        collection + "/{name}": {
            "parameters": [_parameter("name", "path"), *path_parameters],
            "get": _operation(kind, "get", schema, writes=False),
            "put": _operation(kind, "put", schema, writes=True),
            "patch": _operation(kind, "patch", schema, writes=True),
            "delete": _operation(kind, "delete", schema, writes=True),
        },
    }


def _group_version_path(kind: Kind) -> str:
    return _path_prefix(kind).lstrip("/")


@functools.cache
def _documents() -> dict[str, Obj]:
    builder = _SchemaBuilder()
    paths: dict[str, Obj] = {}
    for kind in KINDS.values():
        schema = builder.add_kind(kind)
        paths.setdefault(_group_version_path(kind), {}).update(_paths(kind, schema))
    return {
        group_version: {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBE_VERSION},
            "paths": gv_paths,
            "components": {"schemas": builder.schemas},
        }
        for group_version, gv_paths in paths.items()
    }


def _digest(document: Obj) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:64].upper()


def v3_root() -> Obj:
    """`/openapi/v3`: where each group/version's document is, with a hash for caching."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={_digest(document)}"}
            for path, document in _documents().items()
        }
    }


def v3_group_version(path: str) -> Obj | None:
    """`/openapi/v3/<path>` (e.g. `api/v1`, `apis/apps/v1`), or None if not served."""
    return _documents().get(path.strip("/"))
