"""The plan: which color to deploy, its ports, the commit and the rendered manifests. Pure."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bluegreen_hooks.colors import Color, Ports, other, parse_color
from bluegreen_hooks.config import Config, short_repr
from bluegreen_hooks.errors import ConfigError, TemplateError, UsageError
from bluegreen_hooks.templates import (
    WORKLOAD_KINDS,
    Manifest,
    find_templates,
    load_manifests,
    read_template,
    stamp,
    substitute,
)

_COMMIT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Plan:
    application: str
    namespace: str
    deployment_id: str
    commit: str
    color: Color
    port: int
    old_color: Color
    old_port: int
    services: tuple[Manifest, ...]
    workloads: tuple[Manifest, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data: dict[str, Any] = json.loads(text)
        data["color"] = parse_color(data["color"])
        data["old_color"] = parse_color(data["old_color"])
        data["services"] = tuple(data["services"])
        data["workloads"] = tuple(data["workloads"])
        return cls(**data)


def check_commit(commit: str) -> str:
    """A commit must be usable as a Kubernetes label value."""
    if not _COMMIT.fullmatch(commit):
        raise UsageError(
            f"commit {short_repr(commit)} is not usable"
            " (letters, digits, '.', '_', '-', at most 63)",
            hint="pass the git SHA of the release, e.g. --commit $(git rev-parse HEAD)",
        )
    return commit


def template_variables(
    config: Config, ports: Ports, color: Color, commit: str, deployment_id: str
) -> dict[str, str]:
    """The variables a template may use; see DESIGN.md."""
    old = other(color)
    variables = {
        "BLUE_PORT": str(ports.blue),
        "GREEN_PORT": str(ports.green),
        "NEW_PORT": str(ports.of(color)),
        "OLD_PORT": str(ports.of(old)),
        "NEW_COLOR": color,
        "OLD_COLOR": old,
        "COLOR": color,
        "PORT": str(ports.of(color)),
        "COMMIT": commit,
        "SHORT_COMMIT": commit[:7],
        "APPLICATION_NAME": config.application_name,
        "NAMESPACE": config.namespace,
        "DEPLOYMENT_ID": deployment_id,
    }
    for name in config.template_env:
        if name not in os.environ:
            raise ConfigError(
                f"{config.path}: 'template-env' names {name}, which is not set in the environment",
                hint=f"export {name}=... before deploying, or remove it from 'template-env'",
            )
        variables[name] = os.environ[name]
    return variables


def render(
    config: Config, ports: Ports, color: Color, commit: str, deployment_id: str
) -> tuple[tuple[Manifest, ...], tuple[Manifest, ...]]:
    """Render one color's templates into (services, workloads), stamped and checked."""
    templates = find_templates(config.templates, config.application_name, color)
    variables = template_variables(config, ports, color, commit, deployment_id)
    services = _render_file(templates.service, variables, config, color, commit)
    workloads = _render_file(templates.controller, variables, config, color, commit)
    _expect_kinds(templates.service, services, {"Service"})
    _expect_kinds(templates.controller, workloads, set(WORKLOAD_KINDS))
    _expect_node_port(templates.service, services, ports.of(color), color)
    return tuple(services), tuple(workloads)


def _render_file(
    path: Path, variables: Mapping[str, str], config: Config, color: Color, commit: str
) -> list[Manifest]:
    text = substitute(read_template(path), variables, path)
    return [
        stamp(
            m,
            application=config.application_name,
            color=color,
            commit=commit,
            namespace=config.namespace,
        )
        for m in load_manifests(text, path)
    ]


def _expect_kinds(path: Path, manifests: list[Manifest], kinds: set[str]) -> None:
    if not manifests:
        raise TemplateError(
            f"{path}: renders no objects", hint=f"it should hold a {' or '.join(sorted(kinds))}"
        )
    for manifest in manifests:
        if manifest["kind"] not in kinds:
            raise TemplateError(
                f"{path}: holds a {manifest['kind']}, expected {' or '.join(sorted(kinds))}"
            )


def _expect_node_port(path: Path, services: list[Manifest], port: int, color: Color) -> None:
    """The load balancer sends the color's traffic to its tag port; some Service must expose it."""
    for service in services:
        for entry in (service.get("spec") or {}).get("ports") or []:
            if isinstance(entry, dict) and entry.get("nodePort") == port:
                return
    raise TemplateError(
        f"{path}: no Service port has nodePort {port}, the {color} port tagged on the ELB",
        hint="set 'nodePort: $PORT' on the service port the load balancer should reach",
    )


def make_plan(config: Config, ports: Ports, active: Color, commit: str, deployment_id: str) -> Plan:
    """Plan a release of `commit` onto the idle color."""
    color = other(active)
    services, workloads = render(config, ports, color, check_commit(commit), deployment_id)
    return Plan(
        application=config.application_name,
        namespace=config.namespace,
        deployment_id=deployment_id,
        commit=commit,
        color=color,
        port=ports.of(color),
        old_color=active,
        old_port=ports.of(active),
        services=services,
        workloads=workloads,
    )
