"""Kubernetes naming rules, checked before any call: names, label keys and label values.

Each check returns what is wrong (a short phrase), or None when the value is fine.
"""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")

LABEL_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"


def _too_long(value: str, limit: int) -> str | None:
    return f"is {len(value)} characters long (at most {limit})" if len(value) > limit else None


def dns_label_problem(value: str) -> str | None:
    """RFC 1123 label (namespaces, most names): at most 63 of [a-z0-9-], alphanumeric ends."""
    if problem := _too_long(value, 63):
        return problem
    if not _DNS_LABEL.fullmatch(value):
        return f"must be {LABEL_RULE}"
    return None


def dns_1035_label_problem(value: str) -> str | None:
    """RFC 1035 label (Service names): a DNS-1123 label that starts with a letter."""
    if problem := dns_label_problem(value):
        return problem
    if not _DNS_1035_LABEL.fullmatch(value):
        return "must start with a lowercase letter (a Service name is a DNS-1035 label)"
    return None


def subdomain_problem(value: str) -> str | None:
    """RFC 1123 subdomain (workload names): DNS labels joined by '.', at most 253."""
    if problem := _too_long(value, 253):
        return problem
    if not value or not all(_DNS_LABEL.fullmatch(part) for part in value.split(".")):
        return f"must be {LABEL_RULE}, optionally joined by '.'"
    return None


def label_value_problem(value: object) -> str | None:
    """Label values: a string, empty or at most 63 of [A-Za-z0-9-_.] with alphanumeric ends."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__} (quote it in the YAML)"
    if problem := _too_long(value, 63):
        return problem
    if value and not _LABEL_NAME.fullmatch(value):
        return (
            "must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def label_key_problem(key: object) -> str | None:
    """Label keys: an optional DNS subdomain prefix and '/', then a name like a label value."""
    if not isinstance(key, str):
        return f"must be a string, not {type(key).__name__}"
    prefix, _, name = key.rpartition("/")
    if prefix and (problem := subdomain_problem(prefix)):
        return f"has a prefix that {problem}"
    if not name:
        return "has an empty name"
    return label_value_problem(name)
