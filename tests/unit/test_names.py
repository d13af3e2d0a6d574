"""bluegreen_hooks.names: the Kubernetes naming rules, as the API server applies them."""

from __future__ import annotations

import pytest

from bluegreen_hooks import names


@pytest.mark.parametrize("value", ["a", "web-blue", "0abc", "a" * 63, "x1-2-3"])
def test_valid_dns_labels(value: str) -> None:
    assert names.dns_label_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "must be lowercase"),
        ("Web", "must be lowercase"),
        ("web_blue", "must be lowercase"),
        ("-web", "must be lowercase"),
        ("web-", "must be lowercase"),
        ("a.b", "must be lowercase"),
        ("a" * 64, "is 64 characters long (at most 63)"),
    ],
)
def test_invalid_dns_labels_say_why(value: str, problem: str) -> None:
    assert (names.dns_label_problem(value) or "").startswith(problem)


def test_a_service_name_must_start_with_a_letter() -> None:
    assert names.dns_1035_label_problem("web-blue") is None
    assert "start with a lowercase letter" in (names.dns_1035_label_problem("1web") or "")


@pytest.mark.parametrize("value", ["web", "web.blue", "a.b-c.d", "a" * 63 + "." + "b" * 63])
def test_valid_subdomains(value: str) -> None:
    assert names.subdomain_problem(value) is None


@pytest.mark.parametrize("value", ["", "web..blue", ".web", "Web", "a" * 254, "web_blue"])
def test_invalid_subdomains(value: str) -> None:
    assert names.subdomain_problem(value) is not None


@pytest.mark.parametrize("value", ["", "v1", "1.2.3", "a_b-c.D", "x" * 63])
def test_valid_label_values(value: str) -> None:
    assert names.label_value_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (12, "must be a string, not int"),
        (True, "must be a string, not bool"),
        ("-x", "must be letters"),
        ("a b", "must be letters"),
        ("a/b", "must be letters"),
        ("x" * 64, "is 64 characters long"),
    ],
)
def test_invalid_label_values_say_why(value: object, problem: str) -> None:
    assert (names.label_value_problem(value) or "").startswith(problem)


@pytest.mark.parametrize("key", ["app", "bluegreen.io/color", "example.com/a_b", "A.b-c"])
def test_valid_label_keys(key: str) -> None:
    assert names.label_key_problem(key) is None


@pytest.mark.parametrize("key", [1, "", "Bad_Prefix/x", "example.com/", "a/b/c", "x" * 64])
def test_invalid_label_keys(key: object) -> None:
    assert names.label_key_problem(key) is not None
