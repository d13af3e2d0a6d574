"""Load and validate `.oopsrc` into a frozen Config; errors name file, key and expectation."""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen_hooks.errors import ConfigError

CONFIG_NAME = ".oopsrc"
CONFIG_ENV = "BLUEGREEN_CONFIG"
DEFAULT_TEMPLATES = ".kubernetes/deploy"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class HealthCheck:
    path: str = "/healthcheck"
    interval: int = 30
    timeout: int = 5
    unhealthy_threshold: int = 2
    healthy_threshold: int = 2

    def target(self, port: int) -> str:
        return f"HTTP:{port}{self.path}"


@dataclass(frozen=True)
class Config:
    path: Path
    elb_name: str
    application_name: str
    deployment_group: str | None = None
    s3_bucket: str | None = None
    region: str | None = None
    namespace: str = "default"
    templates: Path = Path(DEFAULT_TEMPLATES)
    listeners: tuple[int, ...] | None = None
    health_check: HealthCheck = field(default_factory=HealthCheck)
    ready_timeout: float = 200.0
    template_env: tuple[str, ...] = ()
    preview_elb_name: str | None = None


_KNOWN_KEYS = (
    "elb-name",
    "application-name",
    "deployment-group",
    "s3-bucket",
    "region",
    "namespace",
    "templates",
    "listeners",
    "health-check",
    "ready-timeout",
    "template-env",
    "preview-elb-name",
)
_HEALTH_KEYS = ("path", "interval", "timeout", "unhealthy-threshold", "healthy-threshold")


def find_config(explicit: str | None = None, *, bundle_root: Path | None = None) -> Path:
    """The config file: --config, then $BLUEGREEN_CONFIG, then .oopsrc in the bundle root or cwd."""
    for chosen, origin in ((explicit, "--config"), (os.environ.get(CONFIG_ENV), CONFIG_ENV)):
        if chosen:
            path = Path(chosen)
            if not path.is_file():
                raise ConfigError(
                    f"{origin} names {path}, which is not a file",
                    hint=f"point {origin} at your application's {CONFIG_NAME}",
                )
            return path
    places = [p for p in (bundle_root, Path.cwd()) if p is not None]
    for folder in places:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(p / CONFIG_NAME) for p in places)
    raise ConfigError(
        f"no config file found (looked for {searched})",
        hint=f"create {CONFIG_NAME} (see examples/) or pass --config / set {CONFIG_ENV}",
    )


def load_config(path: Path) -> Config:
    """Read and validate one config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_config(_parse_document(path, text), path)


def _parse_document(path: Path, text: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)  # the seed's format, and much cheaper to load than PyYAML
    except json.JSONDecodeError:
        data = _parse_yaml(path, text)
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: expected a mapping of keys to values, found {type(data).__name__}",
            hint='write a JSON object such as {"elb-name": "...", "application-name": "..."}',
        )
    return data


def _parse_yaml(path: Path, text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        data = _seed_style_members(text)
        if data is None:
            raise ConfigError(
                f"{path}: not valid JSON or YAML: {exc}",
                hint='write a JSON object such as {"elb-name": "...", "application-name": "..."}',
            ) from exc
        return data


def _seed_style_members(text: str) -> Mapping[str, Any] | None:
    """The seed's post shows the JSON members without the surrounding braces; accept that too."""
    if text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads("{" + text.strip().rstrip(",") + "}")
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate a parsed mapping; relative template folders resolve against the file's folder."""
    _reject_unknown(data, _KNOWN_KEYS, path, prefix="")
    templates = Path(_string(data, "templates", path, default=DEFAULT_TEMPLATES))
    return Config(
        path=path,
        elb_name=_required_string(data, "elb-name", path),
        application_name=_dns_label(data, "application-name", path, required=True) or "",
        deployment_group=_optional_string(data, "deployment-group", path),
        s3_bucket=_optional_string(data, "s3-bucket", path),
        region=_optional_string(data, "region", path),
        namespace=_dns_label(data, "namespace", path, required=False) or "default",
        templates=templates if templates.is_absolute() else path.parent / templates,
        listeners=_listeners(data, path),
        health_check=_health_check(data, path),
        ready_timeout=_positive_number(data, "ready-timeout", path, default=200),
        template_env=_template_env(data, path),
        preview_elb_name=_optional_string(data, "preview-elb-name", path),
    )


def _fail(path: Path, key: str, expected: str, got: object) -> ConfigError:
    return ConfigError(f"{path}: key '{key}': expected {expected}, got {got!r}")


def _reject_unknown(
    data: Mapping[str, Any], known: tuple[str, ...], path: Path, prefix: str
) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = (
                f"did you mean '{prefix}{close[0]}'?"
                if close
                else f"known keys: {', '.join(known)}"
            )
            raise ConfigError(f"{path}: unknown key '{prefix}{key}'", hint=hint)


def _required_string(data: Mapping[str, Any], key: str, path: Path) -> str:
    if key not in data:
        raise ConfigError(f"{path}: missing required key '{key}'", hint=f'add "{key}": "..."')
    return _string(data, key, path, default="")


def _string(data: Mapping[str, Any], key: str, path: Path, *, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, "a non-empty string", value)
    return value


def _optional_string(data: Mapping[str, Any], key: str, path: Path) -> str | None:
    if data.get(key) is None:
        return None
    return _string(data, key, path, default="")


def _dns_label(data: Mapping[str, Any], key: str, path: Path, *, required: bool) -> str | None:
    value = _required_string(data, key, path) if required else _optional_string(data, key, path)
    if value is not None and not _DNS_LABEL.match(value):
        raise _fail(path, key, "a Kubernetes name (lowercase letters, digits, '-', <= 63)", value)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _listeners(data: Mapping[str, Any], path: Path) -> tuple[int, ...] | None:
    value = data.get("listeners")
    if value is None:
        return None
    if isinstance(value, list) and value and all(_is_int(p) and 0 < p < 65536 for p in value):
        if len(set(value)) != len(value):
            raise _fail(path, "listeners", "distinct ports", value)
        return tuple(value)
    raise _fail(path, "listeners", "a non-empty list of load-balancer ports, e.g. [80, 443]", value)


def _positive_number(data: Mapping[str, Any], key: str, path: Path, *, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(path, key, "a positive number of seconds", value)
    return float(value)


def _health_check(data: Mapping[str, Any], path: Path) -> HealthCheck:
    value = data.get("health-check", {})
    if not isinstance(value, Mapping):
        raise _fail(path, "health-check", "a mapping with path, interval, timeout, ...", value)
    _reject_unknown(value, _HEALTH_KEYS, path, prefix="health-check.")
    check_path = value.get("path", HealthCheck.path)
    if not isinstance(check_path, str) or not check_path.startswith("/"):
        raise _fail(path, "health-check.path", "a path starting with '/'", check_path)
    numbers: dict[str, int] = {}
    for key in _HEALTH_KEYS[1:]:
        number = value.get(key, getattr(HealthCheck, key.replace("-", "_")))
        if not _is_int(number) or number <= 0:
            raise _fail(path, f"health-check.{key}", "a positive whole number", number)
        numbers[key.replace("-", "_")] = number
    if numbers["timeout"] >= numbers["interval"]:
        raise _fail(
            path, "health-check.timeout", "less than health-check.interval", numbers["timeout"]
        )
    return HealthCheck(path=check_path, **numbers)


def _template_env(data: Mapping[str, Any], path: Path) -> tuple[str, ...]:
    value = data.get("template-env", [])
    if not isinstance(value, list) or not all(
        isinstance(n, str) and _ENV_NAME.match(n) for n in value
    ):
        raise _fail(path, "template-env", "a list of environment variable names", value)
    return tuple(value)
