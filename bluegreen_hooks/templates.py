"""Strict template rendering, safe YAML loading and the checks rendered manifests must pass."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen_hooks.colors import Color
from bluegreen_hooks.errors import TemplateError

Manifest = dict[str, Any]

LABEL_APPLICATION = "bluegreen.io/application"
LABEL_COLOR = "bluegreen.io/color"
LABEL_COMMIT = "bluegreen.io/commit"
ANNOTATION_HASH = "bluegreen.io/manifest-hash"
WORKLOAD_KINDS = {"ReplicationController": "v1", "Deployment": "apps/v1"}
SUPPORTED_KINDS = {"Service": "v1", **WORKLOAD_KINDS}

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
                f"{source}:{line}: unknown template variable ${name}",
                hint=f"use one of {', '.join(sorted(variables))}, or list it in 'template-env'",
            )
        return variables[name]

    return _PLACEHOLDER.sub(replace, text)


def load_manifests(text: str, source: Path) -> list[Manifest]:
    """Parse rendered YAML documents (safe loader only), skipping empty ones."""
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: rendered YAML does not parse: {exc}") from exc
    for document in documents:
        check_manifest(document, source)
    return documents


def check_manifest(document: object, source: Path) -> None:
    if not isinstance(document, dict):
        raise TemplateError(f"{source}: each document must be a mapping, got {document!r:.60}")
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
    if kind in WORKLOAD_KINDS:
        template = (
            document.get("spec", {}).get("template")
            if isinstance(document.get("spec"), dict)
            else None
        )
        if not isinstance(template, dict):
            raise TemplateError(f"{source}: {kind} {name} has no spec.template")


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
