"""PATCH bodies: JSON merge patch, a strategic merge patch subset, and JSON patch."""

from __future__ import annotations

import copy
from typing import Any

# Lists of objects that strategic merge patches merge element-wise, by this key.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "ports": "",  # containerPort for container ports, port for service ports
}


class PatchError(ValueError):
    """A patch that cannot be applied."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch, but lists of objects with a known merge key merge element by element.

    Supports `$patch: replace` on maps and `$patch: delete` on list elements; other `$`
    directives (such as `$setElementOrder`) are ignored.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _MERGE_KEYS:
            result[key] = _merge_list(result.get(key), value, _MERGE_KEYS[key])
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_list(target: Any, patch: list[Any], merge_key: str) -> list[Any]:
    if not all(isinstance(item, dict) for item in patch):
        return copy.deepcopy(patch)
    if not merge_key:
        merge_key = "containerPort" if all("containerPort" in p for p in patch) else "port"
    if any(merge_key not in item for item in patch):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, list) else []
    for item in patch:
        index = next(
            (
                i
                for i, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch({}, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test); raises PatchError."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind = op.get("op")
        if kind == "add":
            doc = _add(doc, op["path"], copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, op["path"])[0]
        elif kind == "replace":
            doc = _remove(doc, op["path"])[0]
            doc = _add(doc, op["path"], copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            value = _get(doc, op.get("from", ""))
            if kind == "move":
                doc = _remove(doc, op["from"])[0]
            doc = _add(doc, op["path"], copy.deepcopy(value))
        elif kind == "test":
            if _get(doc, op["path"]) != op.get("value"):
                raise PatchError(f"test operation failed at {op['path']}")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc


def _split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _index(container: list[Any], part: str, allow_end: bool) -> int:
    if allow_end and part == "-":
        return len(container)
    if not part.isdigit() or int(part) > len(container) - (0 if allow_end else 1):
        raise PatchError(f"invalid list index {part!r}")
    return int(part)


def _parent(doc: Any, parts: list[str]) -> Any:
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list):
            current = current[_index(current, part, False)]
        else:
            raise PatchError(f"path segment {part!r} does not exist")
    return current


def _get(doc: Any, pointer: str) -> Any:
    parts = _split(pointer)
    if not parts:
        return doc
    parent = _parent(doc, parts)
    if isinstance(parent, dict) and parts[-1] in parent:
        return parent[parts[-1]]
    if isinstance(parent, list):
        return parent[_index(parent, parts[-1], False)]
    raise PatchError(f"path {pointer!r} does not exist")


def _add(doc: Any, pointer: str, value: Any) -> Any:
    parts = _split(pointer)
    if not parts:
        return value
    parent = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], True), value)
    else:
        raise PatchError(f"cannot add at {pointer!r}")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    parts = _split(pointer)
    if not parts:
        return None, doc
    parent = _parent(doc, parts)
    if isinstance(parent, dict) and parts[-1] in parent:
        return doc, parent.pop(parts[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, parts[-1], False))
    raise PatchError(f"path {pointer!r} does not exist")
