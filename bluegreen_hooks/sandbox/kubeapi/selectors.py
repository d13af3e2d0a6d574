"""Label and field selectors: parsing the query-string forms and matching objects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

_TOKEN = re.compile(r"!=|==|=|!|\(|\)|,|[A-Za-z0-9._/-]+")
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

# Field selectors the real server accepts, beyond metadata.name and metadata.namespace.
_EXTRA_FIELDS: dict[str, frozenset[str]] = {
    "pods": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "status.phase",
            "status.podIP",
        }
    ),
    "replicationcontrollers": frozenset({"status.replicas"}),
    "namespaces": frozenset({"status.phase"}),
    "events": frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "type",
        }
    ),
}


class SelectorError(ValueError):
    """A selector string that cannot be parsed."""


class Requirement(NamedTuple):
    """One label requirement; op is one of = != in notin exists !."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return value == self.values[0]
        if self.op == "!=":
            return value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


class LabelSelector(NamedTuple):
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def valid_label_key(key: str) -> bool:
    """Whether `key` is a legal label key (optional DNS prefix, then a name of <= 63 chars)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _PREFIX.fullmatch(prefix)):
        return False
    return len(name) <= 63 and _NAME.fullmatch(name) is not None


def valid_label_value(value: str) -> bool:
    """Whether `value` is a legal label value (may be empty)."""
    return value == "" or (len(value) <= 63 and _NAME.fullmatch(value) is not None)


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return tokens
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SelectorError(
                f"unable to parse requirement: unexpected {text[pos]!r} in {text!r}"
            )
        tokens.append(match.group())
        pos = match.end()


def _check_key(key: str) -> str:
    if not valid_label_key(key):
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r}")
    return key


def _check_value(value: str) -> str:
    if not valid_label_value(value):
        raise SelectorError(f"unable to parse requirement: invalid label value {value!r}")
    return value


def _is_word(token: str | None) -> bool:
    return token is not None and token not in {"!=", "==", "=", "!", "(", ")", ","}


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`; raises SelectorError."""
    tokens = _tokenize(text or "")
    requirements: list[Requirement] = []
    i = 0

    def peek() -> str | None:
        return tokens[i] if i < len(tokens) else None

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise SelectorError(f"unable to parse requirement: unexpected end of {text!r}")
        i += 1
        return tokens[i - 1]

    while tokens:
        token = take()
        if token == "!":
            key = take()
            if not _is_word(key):
                raise SelectorError(
                    f"unable to parse requirement: expected a key after '!' in {text!r}"
                )
            requirements.append(Requirement(_check_key(key), "!"))
        elif not _is_word(token):
            raise SelectorError(f"unable to parse requirement: unexpected {token!r} in {text!r}")
        else:
            key = _check_key(token)
            op = peek()
            if op is None or op == ",":
                requirements.append(Requirement(key, "exists"))
            elif op in {"=", "==", "!="}:
                take()
                value = take() if _is_word(peek()) else ""
                requirements.append(
                    Requirement(key, "!=" if op == "!=" else "=", (_check_value(value),))
                )
            elif op in {"in", "notin"}:
                take()
                if take() != "(":
                    raise SelectorError(f"unable to parse requirement: expected '(' in {text!r}")
                values: list[str] = []
                while True:
                    item = take()
                    if item == ")" and not values:
                        break
                    if not _is_word(item):
                        raise SelectorError(
                            f"unable to parse requirement: bad value list in {text!r}"
                        )
                    values.append(_check_value(item))
                    sep = take()
                    if sep == ")":
                        break
                    if sep != ",":
                        raise SelectorError(
                            f"unable to parse requirement: expected ',' in {text!r}"
                        )
                if not values:
                    raise SelectorError(f"unable to parse requirement: empty set for {key!r}")
                requirements.append(Requirement(key, op, tuple(values)))
            else:
                raise SelectorError(f"unable to parse requirement: unexpected {op!r} in {text!r}")
        if peek() is None:
            break
        if take() != ",":
            raise SelectorError(f"unable to parse requirement: expected ',' in {text!r}")
        if peek() is None:
            raise SelectorError(f"unable to parse requirement: trailing ',' in {text!r}")
    return LabelSelector(tuple(requirements))


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Build a selector from a `LabelSelector` object (matchLabels + matchExpressions)."""
    selector = selector or {}
    requirements = [
        Requirement(key, "=", (value,))
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    for expression in selector.get("matchExpressions") or []:
        op = _EXPRESSION_OPS.get(expression.get("operator", ""))
        if op is None:
            raise SelectorError(f"{expression.get('operator')!r} is not a valid selector operator")
        values = tuple(expression.get("values") or ())
        if op in {"in", "notin"} and not values:
            raise SelectorError("values must be non-empty for In and NotIn")
        requirements.append(Requirement(expression.get("key", ""), op, values))
    return LabelSelector(tuple(requirements))


class FieldRequirement(NamedTuple):
    """One `path=value` or `path!=value` term of a field selector."""

    path: str
    value: str
    negated: bool


class FieldSelector(NamedTuple):
    """A conjunction of field requirements over dotted object paths."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, r.path) == r.value) != r.negated for r in self.requirements)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value at a dotted path, "" when absent (as the real server compares)."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    return "" if current is None else str(current)


def parse_field_selector(text: str | None, plural: str) -> FieldSelector:
    """Parse `metadata.name=x,metadata.namespace!=y`; raises SelectorError."""
    allowed = {"metadata.name", "metadata.namespace"} | _EXTRA_FIELDS.get(plural, frozenset())
    requirements: list[FieldRequirement] = []
    for term in (text or "").split(","):
        term = term.strip()
        if not term:
            continue
        for op in ("!=", "==", "="):
            path, sep, value = term.partition(op)
            if sep:
                break
        else:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {term!r}")
        path = path.strip()
        if path not in allowed:
            raise SelectorError(f'field label not supported: "{path}"')
        requirements.append(FieldRequirement(path, value.strip(), op == "!="))
    return FieldSelector(tuple(requirements))
