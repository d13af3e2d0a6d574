"""Rendered manifests are refused before anything is sent when Kubernetes would refuse them,
or when they are not plain JSON values of a real object's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_hooks.errors import TemplateError
from bluegreen_hooks.templates import MAX_TEMPLATE_BYTES, load_manifests, read_template

SOURCE = Path("deploy/app-controller.yaml.tmpl")
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{{labels}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{{selector}}}
  template:
    metadata:
      labels: {{{pod_labels}}}
    spec:
      containers: [{{name: web, image: "example/web:1"}}]
"""
GOOD = {
    "name": "web-blue",
    "labels": "app: web",
    "replicas": "2",
    "selector": "app: web",
    "pod_labels": "app: web",
}


def refused(**changes: str) -> str:
    with pytest.raises(TemplateError) as exc:
        load_manifests(DEPLOYMENT.format(**{**GOOD, **changes}), SOURCE)
    assert exc.value.exit_code == 2
    assert len(str(exc.value)) < 400
    return exc.value.message


def test_the_baseline_is_accepted() -> None:
    [manifest] = load_manifests(DEPLOYMENT.format(**GOOD), SOURCE)

    assert manifest["metadata"]["name"] == "web-blue"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "Web-Blue"}, "Deployment name 'Web-Blue' must be lowercase"),
        ({"name": "web_blue"}, "must be lowercase"),
        ({"name": "w" * 254}, "is 254 characters long (at most 253)"),
        ({"labels": "app: 12"}, "label 'app' has a value 12 that must be a string, not int"),
        ({"labels": "app: 'a b'"}, "metadata.labels: label 'app' has a value 'a b'"),
        ({"labels": "'bad key!': x"}, "label 'bad key!' must be letters"),
        ({"selector": "app: 'x/y'"}, "selector: label 'app'"),
        ({"pod_labels": "version: true"}, "spec.template.metadata.labels: label 'version'"),
        ({"replicas": "-1"}, "spec.replicas must be a whole number"),
        ({"replicas": "10000000000"}, "spec.replicas must be a whole number"),
        ({"replicas": "two"}, "spec.replicas must be a whole number"),
        ({"labels": "app: !!binary aGk="}, "holds a bytes value"),
        ({"labels": "since: 2001-01-01"}, "holds a date value"),
        ({"replicas": ".nan"}, "is not a number Kubernetes accepts"),
        ({"labels": "app: " + "9" * 30}, "is out of range"),
        ({"labels": "? [a, b]\n  : c"}, "rendered YAML does not parse: line"),
        ({"labels": "app: !!python/object/apply:os.system [true]"}, "could not determine"),
    ],
)
def test_a_manifest_kubernetes_would_refuse_is_refused_first(
    changes: dict[str, str], fragment: str
) -> None:
    assert fragment in refused(**changes)


def test_a_service_name_must_be_a_dns_1035_label() -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: []}\n"

    with pytest.raises(TemplateError, match="must start with a lowercase letter"):
        load_manifests(text, SOURCE)


def test_yaml_aliases_that_expand_into_a_huge_document_are_refused_quickly() -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefghi":
        bomb.append(f"{level}: &{level} [{', '.join([f'*{chr(ord(level) - 1)}'] * 10)}]")
    text = DEPLOYMENT.format(**GOOD).replace(
        "spec:\n", "\n".join(["extra:", *bomb]) + "\nspec:\n", 1
    )

    with pytest.raises(TemplateError, match="expands to more than any real object"):
        load_manifests(text.replace("\na:", "\n  a:"), SOURCE)


def test_deep_nesting_is_one_error() -> None:
    text = DEPLOYMENT.format(**GOOD) + "extra: " + "[" * 5000 + "]" * 5000 + "\n"

    with pytest.raises(TemplateError, match="nested too deeply"):
        load_manifests(text, SOURCE)


def test_a_template_that_is_not_utf8_or_too_large_is_refused(tmp_path: Path) -> None:
    binary, huge = tmp_path / "binary.tmpl", tmp_path / "huge.tmpl"
    binary.write_bytes(b"kind: \xff\xfe")
    huge.write_bytes(b"#" * (MAX_TEMPLATE_BYTES + 1))

    with pytest.raises(TemplateError, match=r"is not UTF-8 text \(byte 0xff at offset 6\)"):
        read_template(binary)
    with pytest.raises(TemplateError, match="is larger than 1024 KiB"):
        read_template(huge)
    with pytest.raises(TemplateError, match="cannot read"):
        read_template(tmp_path / "missing.tmpl")
