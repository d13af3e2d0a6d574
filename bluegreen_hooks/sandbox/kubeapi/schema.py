"""Which fields each kind has, from the official client's models, for `fieldValidation`.

The real server decodes bodies into Go structs: fields it does not know are dropped, and with
`fieldValidation=Strict` refused (`strict decoding error: unknown field "spec.foo"`), with
`Warn` (the default) reported in a `Warning` header. The client's generated models list every
field of every kind (`openapi_types` and `attribute_map`), so they serve as the schema.
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path
from typing import Any

from .objects import Kind

Obj = dict[str, Any]
# A field's type: a model's fields (by JSON name), ("list", item), ("map", value), or None
# for a scalar or free-form value whose inside is not checked.
Schema = Any

_IMPORT = re.compile(r"from kubernetes\.client\.models\.(\w+) import (\w+)\s*$", re.MULTILINE)


@functools.cache
def _model_modules() -> dict[str, str]:
    """Model class name -> module, read from the package's index without importing it all."""
    import kubernetes.client.models as package

    index = Path(package.__file__ or "").read_text()
    return {cls: module for module, cls in _IMPORT.findall(index)}


@functools.cache
def _model(name: str) -> type[Any] | None:
    module = _model_modules().get(name)
    if module is None:
        return None
    loaded = importlib.import_module(f"kubernetes.client.models.{module}")
    found: type[Any] = getattr(loaded, name)
    return found


@functools.cache
def _schema(type_name: str) -> Schema:
    if type_name.startswith("List[") and type_name.endswith("]"):
        return ("list", type_name[5:-1])
    if type_name.startswith("Dict[") and type_name.endswith("]"):
        return ("map", type_name[5:-1].split(",", 1)[1].strip())
    model = _model(type_name)
    if model is None:  # str, int, datetime, object (IntOrString, free-form)...
        return None
    types: dict[str, str] = model.openapi_types
    names: dict[str, str] = model.attribute_map
    return {names[attr]: type_name for attr, type_name in types.items()}


def _kind_model(kind: Kind) -> str | None:
    name = kind.version[:1].upper() + kind.version[1:] + kind.kind
    return name if _model(name) is not None else None


def prune_unknown(kind: Kind, body: Any) -> list[str]:
    """Drop the fields `kind` does not have from `body` (in place); returns their paths,
    e.g. `spec.foo` or `spec.ports[0].bar`. Patch directives (`$patch`...) are kept."""
    model = _kind_model(kind)
    if model is None or not isinstance(body, dict):
        return []
    unknown: list[str] = []
    _prune(body, model, "", unknown)
    return unknown


def _prune(value: Any, type_name: str, path: str, unknown: list[str]) -> None:
    schema = _schema(type_name)
    if schema is None or value is None:
        return
    if isinstance(schema, tuple):
        container, inner = schema
        if container == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                _prune(item, inner, f"{path}[{i}]", unknown)
        elif container == "map" and isinstance(value, dict):
            for key, item in value.items():
                _prune(item, inner, f"{path}[{key}]", unknown)
        return
    if not isinstance(value, dict):
        return
    for key in list(value):
        field = f"{path}.{key}" if path else key
        if key in schema:
            _prune(value[key], schema[key], field, unknown)
        elif not key.startswith("$"):
            unknown.append(field)
            del value[key]
