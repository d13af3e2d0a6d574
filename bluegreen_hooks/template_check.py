"""Render every template before any call, so a broken one stops a run before AWS or Kubernetes
hears of it.

The ports come from the load balancer, which is not read yet: both colors are rendered with
stand-in ports, and the nodePort check waits for the real render.
"""

from __future__ import annotations

from bluegreen_hooks.colors import COLORS, Ports
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import TemplateError
from bluegreen_hooks.plan import check_commit, template_variables
from bluegreen_hooks.templates import (
    WORKLOAD_KINDS,
    Manifest,
    find_templates,
    load_manifests,
    read_template,
    stamp,
    substitute,
)

STAND_IN_PORTS = Ports(blue=30000, green=30001)
STAND_IN_COMMIT = "0" * 40


def check_templates(config: Config, commit: str | None, deployment_id: str) -> None:
    """Both colors' templates render to valid, schema-checked objects; else TemplateError."""
    commit = check_commit(commit) if commit is not None else STAND_IN_COMMIT
    rendered: list[Manifest] = []
    for color in COLORS:
        templates = find_templates(config.templates, config.application_name, color)
        variables = template_variables(config, STAND_IN_PORTS, color, commit, deployment_id)
        for path, kinds in (
            (templates.service, {"Service"}),
            (templates.controller, set(WORKLOAD_KINDS)),
        ):
            manifests = load_manifests(substitute(read_template(path), variables, path), path)
            if not manifests:
                raise TemplateError(
                    f"{path}: renders no objects",
                    hint=f"it should hold a {' or '.join(sorted(kinds))}",
                )
            for manifest in manifests:
                if manifest["kind"] not in kinds:
                    raise TemplateError(
                        f"{path}: holds a {manifest['kind']}, expected {' or '.join(sorted(kinds))}"
                    )
                rendered.append(
                    stamp(
                        manifest,
                        application=config.application_name,
                        color=color,
                        commit=commit,
                        namespace=config.namespace,
                    )
                )
    from bluegreen_hooks.kube import validate_manifests

    validate_manifests(tuple(rendered))
