"""Decoding `application/vnd.kubernetes.protobuf` request bodies into JSON objects.

kubectl's typed commands (`kubectl create deployment`, `create service`, ...) send protobuf and
do not retry in JSON after a 415 (client-go falls back only from CBOR), so the emulator reads
protobuf bodies of the kinds it serves. Answers stay JSON, which clients accept as listed.
"""

from __future__ import annotations

import datetime
import json
import struct
from typing import Any

from .protobuf_fields import MESSAGES

Obj = dict[str, Any]

MAGIC = b"k8s\x00"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_PACKAGES = {"v1": "k8s.io.api.core.v1", "apps/v1": "k8s.io.api.apps.v1"}
_ZERO_MEANS_SOMETHING = frozenset(
    {
        "replicas",
        "revisionHistoryLimit",
        "terminationGracePeriodSeconds",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "allocateLoadBalancerNodePorts",
        "leaseDurationSeconds",
        "gracePeriodSeconds",
    }
)


class ProtobufError(ValueError):
    """A body that is not a Kubernetes protobuf envelope of a known kind."""


def decode(raw: bytes) -> Obj:
    """The JSON object of a `k8s\\0`-prefixed runtime.Unknown envelope."""
    if not raw.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = _message(raw[len(MAGIC) :], _UNKNOWN)
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    package = _PACKAGES.get(api_version) or _group_package(api_version)
    name = f"{package}.{kind}" if kind else ""
    if name not in MESSAGES:
        name = f"{_META}{kind}"  # DeleteOptions and friends come in any group's version
    if name not in MESSAGES:
        raise ProtobufError(f"no protobuf decoding for {api_version} {kind}")
    obj = _message(envelope.get("raw", b""), name)
    return {"apiVersion": api_version, "kind": kind, **obj}


def _group_package(api_version: str) -> str:
    group, _, version = api_version.partition("/")
    return f"k8s.io.api.{group.split('.')[0]}.{version}"


def _message(data: bytes, name: str) -> Any:
    if name == f"{_META}Time" or name == f"{_META}MicroTime":
        return _time(_fields(data, name))
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        fields = _fields(data, name)
        return fields.get("strVal", "") if fields.get("type") == 1 else fields.get("intVal", 0)
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return _fields(data, name).get("string", "")
    if name in (f"{_META}FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension"):
        raw = next(iter(_fields(data, name).values()), b"")
        return json.loads(raw) if raw else {}
    return _fields(data, name)


def _time(fields: Obj) -> str | None:
    if "seconds" not in fields:  # Go marshals its zero time as an empty message
        return None
    seconds = int(fields["seconds"])
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(data: bytes, name: str) -> Obj:
    """Decode one message; values equal to Go's zero value (always sent) are left out, as
    JSON's omitempty leaves them out."""
    table = MESSAGES[name]
    obj: Obj = {}
    for number, wire, value in _wire(data):
        if number not in table:
            continue  # a field newer than our table: skip it, as protobuf readers do
        field, kind, repeated = table[number]
        if kind.startswith("map:"):
            key, item = _map_entry(value, kind[4:])
            obj.setdefault(field, {})[key] = item
            continue
        if repeated and wire == 2 and kind in ("int", "bool"):  # packed
            for _n, _w, item in _wire_packed(value):
                obj.setdefault(field, []).append(_scalar(item, kind))
            continue
        decoded = _value(wire, value, kind)
        if repeated:
            obj.setdefault(field, []).append(decoded)
        else:
            obj[field] = decoded
    return {k: v for k, v in obj.items() if not _zero(k, v)}


def _zero(field: str, value: Any) -> bool:
    """Go sends every non-pointer field, set or not; JSON would have left the zero ones out.
    Pointer fields whose zero means something, and empty volume sources (`emptyDir: {}`),
    stay."""
    if value is None or value == "":
        return True
    if value is False or (isinstance(value, int) and value == 0):
        return field not in _ZERO_MEANS_SOMETHING
    return value == {} and not field.endswith("Dir")


def _map_entry(data: bytes, kind: str) -> tuple[str, Any]:
    key: str = ""
    item: Any = "" if kind == "string" else None
    for number, wire, value in _wire(data):
        if number == 1:
            key = bytes(value).decode()
        elif number == 2:
            item = _value(wire, value, kind)
    return key, item


def _value(wire: int, value: Any, kind: str) -> Any:
    if kind == "string":
        return bytes(value).decode()
    if kind == "bytes":
        return bytes(value)
    if kind in MESSAGES:
        return _message(bytes(value), kind)
    return _scalar(value, kind)


def _scalar(value: Any, kind: str) -> Any:
    if kind == "bool":
        return bool(value)
    if kind == "double":
        return struct.unpack("<d", value)[0] if isinstance(value, bytes) else float(value)
    if kind == "float":
        return struct.unpack("<f", value)[0] if isinstance(value, bytes) else float(value)
    return value - (1 << 64) if value >= 1 << 63 else value  # two's complement int32/int64


def _wire(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) of each field in a message."""
    fields: list[tuple[int, int, Any]] = []
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ProtobufError(f"unsupported protobuf wire type {wire}")
        if position > len(data):
            raise ProtobufError("truncated protobuf message")
        fields.append((number, wire, value))
    return fields


def _wire_packed(data: bytes) -> list[tuple[int, int, int]]:
    values: list[tuple[int, int, int]] = []
    position = 0
    while position < len(data):
        value, position = _varint(data, position)
        values.append((0, 0, value))
    return values


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ProtobufError("truncated protobuf varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
