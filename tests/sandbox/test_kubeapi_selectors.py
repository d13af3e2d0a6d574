"""Label and field selectors, over HTTP and at the parser level."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)

from .kube_helpers import pod_body, status_body

PODS = {
    "blue-1": {"app": "web", "color": "blue", "tier": "front"},
    "blue-2": {"app": "web", "color": "blue"},
    "green-1": {"app": "web", "color": "green"},
    "db": {"app": "db"},
}


@pytest.fixture
def labelled(core: Any) -> Any:
    for name, labels in PODS.items():
        core.create_namespaced_pod("default", pod_body(name, labels))
    return core


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", ["blue-1", "blue-2", "db", "green-1"]),
        ("color=blue", ["blue-1", "blue-2"]),
        ("color==green", ["green-1"]),
        ("app=web,color!=blue", ["green-1"]),
        ("color!=blue", ["db", "green-1"]),
        ("color in (green, blue)", ["blue-1", "blue-2", "green-1"]),
        ("color notin (blue)", ["db", "green-1"]),
        ("tier", ["blue-1"]),
        ("!color", ["db"]),
        ("app in (web),!tier,color", ["blue-2", "green-1"]),
    ],
)
def test_label_selectors(labelled: Any, selector: str, expected: list[str]) -> None:
    pods = labelled.list_namespaced_pod("default", label_selector=selector)
    assert sorted(p.metadata.name for p in pods.items) == expected


def test_field_selectors(labelled: Any) -> None:
    by_name = labelled.list_namespaced_pod("default", field_selector="metadata.name=db")
    assert [p.metadata.name for p in by_name.items] == ["db"]
    not_name = labelled.list_namespaced_pod("default", field_selector="metadata.name!=db")
    assert len(not_name.items) == 3
    everywhere = labelled.list_pod_for_all_namespaces(
        field_selector="metadata.namespace=default", label_selector="app=db"
    )
    assert [p.metadata.name for p in everywhere.items] == ["db"]


@pytest.mark.parametrize("selector", ["a in (", "a=b,", "=x", "a b", "a in ()", "Bad Key=1"])
def test_bad_label_selector_is_400(core: Any, selector: str) -> None:
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_pod("default", label_selector=selector)
    assert (bad.value.status, status_body(bad.value)["reason"]) == (400, "BadRequest")


def test_unsupported_field_selector_is_400(core: Any) -> None:
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_service("default", field_selector="spec.type=NodePort")
    assert bad.value.status == 400


def test_parsers_directly() -> None:
    selector = parse_label_selector("a=1, b notin (x,y), !c, d")
    assert selector.matches({"a": "1", "d": ""})
    assert not selector.matches({"a": "1", "d": "", "b": "x"})
    assert not selector.matches({"a": "1"})
    with pytest.raises(SelectorError):
        parse_label_selector("a in (x")
    fields = parse_field_selector("metadata.name=x,status.phase!=Running", "pods")
    assert fields.matches({"metadata": {"name": "x"}, "status": {"phase": "Pending"}})
    assert not fields.matches({"metadata": {"name": "x"}, "status": {"phase": "Running"}})
