"""Strict template rendering, safe YAML loading and the checks rendered manifests must pass."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen_hooks import names
from bluegreen_hooks.colors import Color
from bluegreen_hooks.errors import TemplateError
from bluegreen_hooks.yaml_errors import yaml_problem_at

Manifest = dict[str, Any]

LABEL_APPLICATION = "bluegreen.io/application"
LABEL_COLOR = "bluegreen.io/color"
LABEL_COMMIT = "bluegreen.io/commit"
ANNOTATION_HASH = "bluegreen.io/manifest-hash"
WORKLOAD_KINDS = {"ReplicationController": "v1", "Deployment": "apps/v1"}
SUPPORTED_KINDS = {"Service": "v1", **WORKLOAD_KINDS}
MAX_TEMPLATE_BYTES = 1024 * 1024  # Kubernetes stores at most about 1.5 MB per object
MAX_NODES = 100_000  # values in one file, counting every use of a YAML alias

_PLACEHOLDER = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<invalid>))"
)


@dataclass(frozen=True)
class TemplateSet:
    """The two template files for one color: its Service and its workload."""

    service: Path
    controller: Path


def find_templates(folder: Path, application: str, color: Color) -> TemplateSet:
    """Prefer the seed's per-color names, else the color-agnostic ones."""
    for infix in (f"-{color}", ""):
        service = folder / f"{application}{infix}-service.yaml.tmpl"
        controller = folder / f"{application}{infix}-controller.yaml.tmpl"
        if service.is_file() and controller.is_file():
            return TemplateSet(service=service, controller=controller)
    raise TemplateError(
        f"no templates for {application} ({color}) in {folder}",
        hint=(
            f"add {application}-service.yaml.tmpl and {application}-controller.yaml.tmpl "
            f"(or {application}-{color}-service.yaml.tmpl and -controller.yaml.tmpl), "
            "or set 'templates' in the config"
        ),
    )


def read_template(path: Path) -> str:
    """A template's text: readable, UTF-8, of a size a Kubernetes object can have."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TEMPLATE_BYTES + 1)
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"{path}: is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(
            f"{path}: is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})"
        ) from None


def substitute(text: str, variables: Mapping[str, str], source: Path) -> str:
    """Replace $NAME and ${NAME}; $$ is a literal $; anything unknown is an error with its line."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("named") or match.group("braced")
        line = text.count("\n", 0, match.start()) + 1
        if name is None:
            raise TemplateError(
                f"{source}:{line}: stray '$' in template",
                hint="write $$ for a literal dollar sign, or $NAME / ${NAME} for a variable",
            )
        if name not in variables:
            raise TemplateError(
                f"{source}:{line}: unknown template variable ${_short(name)}",
                hint=f"use one of {', '.join(sorted(variables))}, or list it in 'template-env'",
            )
        return variables[name]

    return _PLACEHOLDER.sub(replace, text)


def load_manifests(text: str, source: Path) -> list[Manifest]:
    """Parse rendered YAML documents (safe loader only), skipping empty ones."""
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except RecursionError:
        raise TemplateError(f"{source}: YAML nested too deeply") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise TemplateError(
            f"{source}: rendered YAML does not parse: {yaml_problem_at(exc) or _short(exc)}"
        ) from None
    _check_size(documents, source)
    for document in documents:
        check_manifest(document, source)
    return documents


def _check_size(documents: list[Any], source: Path) -> None:
    """Only JSON values, of sizes a real object has: YAML aliases of aliases, dates, binary
    blobs, huge numbers and non-finite floats stop here, before anything is sent."""
    nodes, characters = 0, 0
    pending: list[Any] = list(documents)
    while pending:
        node = pending.pop()
        nodes += 1
        if isinstance(node, str):
            characters += len(node)
        if nodes > MAX_NODES or characters > 4 * MAX_TEMPLATE_BYTES:
            raise TemplateError(
                f"{source}: expands to more than any real object (YAML aliases?)",
                hint="write the objects out; a manifest this large is not a real object",
            )
        if isinstance(node, dict):
            bad_key = next((k for k in node if not isinstance(k, str)), None)
            if bad_key is not None:
                raise TemplateError(
                    f"{source}: key {_short(repr(bad_key))} is not a string", hint=_QUOTE_HINT
                )
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, bool) or node is None or isinstance(node, str):
            continue
        elif isinstance(node, int):
            if not -(2**63) <= node < 2**63:
                raise TemplateError(f"{source}: number {_short(node)} is out of range")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise TemplateError(f"{source}: {node} is not a number Kubernetes accepts")
        else:
            raise TemplateError(
                f"{source}: holds a {type(node).__name__} value {_short(repr(node))}",
                hint=_QUOTE_HINT,
            )


_QUOTE_HINT = "quote it: manifests hold strings, numbers, booleans, lists and mappings"


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_manifest(document: object, source: Path) -> None:
    if not isinstance(document, dict):
        raise TemplateError(
            f"{source}: each document must be a mapping, got {_short(repr(document), 60)}"
        )
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if not isinstance(kind, str) or kind not in SUPPORTED_KINDS:
        raise TemplateError(
            f"{source}: unsupported kind {kind!r}",
            hint="templates may hold Service, ReplicationController and apps/v1 Deployment",
        )
    if api_version != SUPPORTED_KINDS[kind]:
        raise TemplateError(
            f"{source}: {kind} must use apiVersion {SUPPORTED_KINDS[kind]}, got {api_version!r}"
        )
    name = (
        document.get("metadata", {}).get("name")
        if isinstance(document.get("metadata"), dict)
        else None
    )
    if not isinstance(name, str) or not name:
        raise TemplateError(f"{source}: {kind} has no metadata.name")
    _check_name(kind, name, source)
    _check_labels(document["metadata"].get("labels"), f"{kind} {name} metadata.labels", source)
    spec = document.get("spec")
    if spec is not None and not isinstance(spec, dict) and kind not in WORKLOAD_KINDS:
        raise TemplateError(f"{source}: {kind} {name}: spec must be a mapping")
    spec = spec if isinstance(spec, dict) else {}
    if kind in WORKLOAD_KINDS:
        template = spec.get("template")
        if not isinstance(template, dict):
            raise TemplateError(f"{source}: {kind} {name} has no spec.template")
        replicas = spec.get("replicas", 1)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas < 2**31:
            raise TemplateError(
                f"{source}: {kind} {name}: spec.replicas must be a whole number from 0,"
                f" got {_short(repr(replicas))}"
            )
        pod_metadata = template.get("metadata") or {}
        if not isinstance(pod_metadata, dict):
            raise TemplateError(
                f"{source}: {kind} {name}: spec.template.metadata must be a mapping"
            )
        _check_labels(
            pod_metadata.get("labels"), f"{kind} {name} spec.template.metadata.labels", source
        )
    selector = spec.get("selector")
    if kind == "Deployment" and isinstance(selector, dict):
        selector = selector.get("matchLabels")
    _check_labels(selector, f"{kind} {name} selector", source)


def _check_name(kind: str, name: str, source: Path) -> None:
    """Kubernetes would refuse the object; say so before anything is sent."""
    if kind == "Service":
        problem = names.dns_1035_label_problem(name)
    else:
        problem = names.subdomain_problem(name)
    if problem:
        raise TemplateError(
            f"{source}: {kind} name {_short(name)!r} {problem}",
            hint="names are built from variables such as ${APPLICATION_NAME}-${COLOR}",
        )


def _check_labels(labels: object, where: str, source: Path) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict):
        raise TemplateError(f"{source}: {where} must be a mapping of label keys to values")
    for key, value in labels.items():
        problem = names.label_key_problem(key)
        if problem is None and (value_problem := names.label_value_problem(value)):
            problem = f"has a value {_short(repr(value))} that {value_problem}"
        if problem:
            raise TemplateError(f"{source}: {where}: label {_short(key)!r} {problem}")


def stamp(
    manifest: Manifest, *, application: str, color: Color, commit: str, namespace: str
) -> Manifest:
    """Label the object (and a workload's pods) with application, color and commit; hash it."""
    stamped: Manifest = json.loads(json.dumps(manifest))
    metadata = stamped["metadata"] = stamped.get("metadata") or {}
    wanted_namespace = metadata.get("namespace", namespace)
    if wanted_namespace != namespace:
        raise TemplateError(
            f"{stamped['kind']} {metadata['name']} asks for namespace {wanted_namespace!r}, "
            f"but the config deploys to {namespace!r}",
            hint="remove metadata.namespace from the template or set 'namespace' in the config",
        )
    metadata["namespace"] = namespace
    labels = {LABEL_APPLICATION: application, LABEL_COLOR: color}
    if stamped["kind"] in WORKLOAD_KINDS:
        # Only workloads and their pods name the commit: a Service that did not change
        # keeps its hash, so a deploy leaves it in place instead of re-creating it.
        labels[LABEL_COMMIT] = commit
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    if stamped["kind"] in WORKLOAD_KINDS:
        template = stamped["spec"]["template"]
        pod_metadata = template["metadata"] = template.get("metadata") or {}
        pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **labels}
    digest = hashlib.sha256(json.dumps(stamped, sort_keys=True).encode()).hexdigest()[:16]
    metadata["annotations"] = {**(metadata.get("annotations") or {}), ANNOTATION_HASH: digest}
    return stamped


def to_yaml(manifests: list[Manifest]) -> str:
    import yaml

    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)
