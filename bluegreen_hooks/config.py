"""Load and validate `.oopsrc` into a frozen Config; errors name file, key and expectation."""

from __future__ import annotations

import difflib
import json
import os
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen_hooks import names
from bluegreen_hooks.errors import ConfigError
from bluegreen_hooks.gates.spec import Gates
from bluegreen_hooks.yaml_errors import yaml_problem_at

CONFIG_NAME = ".oopsrc"
CONFIG_ENV = "BLUEGREEN_CONFIG"
DEFAULT_TEMPLATES = ".kubernetes/deploy"
MAX_CONFIG_BYTES = 64 * 1024  # a .oopsrc is a few hundred bytes; anything huge is a mistake
MAX_HOOK_TIMEOUT = 3600  # CodeDeploy stops a lifecycle hook after an hour at most
MAX_READY_TIMEOUT = MAX_HOOK_TIMEOUT
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")  # botocore's own rule
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The variables every template gets (plan.template_variables); template-env may not shadow them.
BUILTIN_TEMPLATE_VARIABLES = frozenset(
    [
        "BLUE_PORT",
        "GREEN_PORT",
        "OLD_PORT",
        "NEW_PORT",
        "OLD_COLOR",
        "NEW_COLOR",
        "COLOR",
        "PORT",
        "COMMIT",
        "SHORT_COMMIT",
        "APPLICATION_NAME",
        "NAMESPACE",
        "DEPLOYMENT_ID",
    ]
)
SAMPLE_CONFIG = """{
  "elb-name": "my-app-elb",
  "application-name": "my-app",
  "deployment-group": "master",
  "s3-bucket": "my-deploy-bucket",
  "region": "us-west-2"
}"""
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxtuple = 4
_SHORT.maxlevel = 2


def short_repr(value: object) -> str:
    """A value as a message may quote it: bounded in length and depth, whatever it is."""
    return _SHORT.repr(value)


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
class WaitPolicy:
    """How the wait for Ready reports progress, when it gives up early, and what counts as
    stable (the `wait` key)."""

    image_pull_grace: float = 30.0  # seconds a pod may fail to pull its image
    crash_restarts: int = 3  # restarts of a crash-looping container that make it hopeless
    stable_for: float = 0.0  # seconds every replica must stay Ready before the switch
    stable_after_unready: float = 10.0  # the same, once a Ready replica turned unready
    progress_every: float = 5.0  # seconds between progress lines


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
    wait: WaitPolicy = field(default_factory=WaitPolicy)
    template_env: tuple[str, ...] = ()
    preview_elb_name: str | None = None
    load_balancer_type: str = "classic"
    gates: Gates = field(default_factory=Gates)
    auto_rollback: bool = True
    node_addresses: tuple[str, ...] | None = None

    def require(self, key: str, *, needed_by: str | None = None) -> str:
        """The value of an optional key a command cannot do without; exit 2 when it is unset.

        `key` is the config's own spelling: "s3-bucket", "deployment-group", "preview-elb-name".
        """
        if key not in _OPTIONAL_STRING_KEYS:
            raise ValueError(f"{key!r} is not an optional string key of the config")
        value: str | None = getattr(self, key.replace("-", "_"))
        if value is None:
            who = needed_by or "this command"
            raise ConfigError(
                f"{self.path}: {who} needs '{key}' ({_OPTIONAL_STRING_KEYS[key]}),"
                " which is not set",
                hint=f'add "{key}": "..." to {self.path}',
            )
        return value


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
    "wait",
    "template-env",
    "preview-elb-name",
    "load-balancer-type",
    "gates",
    "auto-rollback",
    "node-addresses",
)
LOAD_BALANCER_TYPES = ("classic", "application", "network")
_HEALTH_KEYS = ("path", "interval", "timeout", "unhealthy-threshold", "healthy-threshold")
# The ranges the Classic ELB accepts in ConfigureHealthCheck.
_HEALTH_RANGES = {
    "interval": (5, 300),
    "timeout": (2, 60),
    "unhealthy-threshold": (2, 10),
    "healthy-threshold": (2, 10),
}
# wait.<key>: (low, high, whole numbers only)
_WAIT_RANGES: dict[str, tuple[float, float, bool]] = {
    "image-pull-grace": (0, MAX_READY_TIMEOUT, False),
    "crash-restarts": (1, 1000, True),
    "stable-for": (0, MAX_READY_TIMEOUT, False),
    "stable-after-unready": (0, MAX_READY_TIMEOUT, False),
    "progress-every": (0.5, 300, False),
}
_OPTIONAL_STRING_KEYS = {
    "s3-bucket": "the S3 bucket that holds release bundles",
    "deployment-group": "the CodeDeploy deployment group to deploy to",
    "preview-elb-name": "the load balancer that previews the idle color",
    "region": "the AWS region of the load balancer",
}


def find_config(explicit: str | None = None, *, bundle_root: Path | None = None) -> Path:
    """The config file: --config, then $BLUEGREEN_CONFIG, then .oopsrc in the bundle root or cwd."""
    for chosen, origin in ((explicit, "--config"), (os.environ.get(CONFIG_ENV), CONFIG_ENV)):
        if chosen:
            path = Path(chosen)
            if not _is_file(path):
                raise ConfigError(
                    f"{origin} names {chosen if len(chosen) < 1000 else chosen[:997] + '...'},"
                    " which is not a file",
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
        f"no config file found (looked for --config, ${CONFIG_ENV}, {searched})",
        hint=(
            f"create {CONFIG_NAME} beside your templates (or pass --config / set {CONFIG_ENV});"
            " it needs 'elb-name' and 'application-name', e.g.\n" + SAMPLE_CONFIG
        ),
    )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the system, an embedded NUL
        return False


def load_config(path: Path) -> Config:
    """Read and validate one config file."""
    return parse_config(_parse_document(path, _read_text(path)), path)


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: is larger than {MAX_CONFIG_BYTES // 1024} KiB; is it the right file?",
            hint=f"a {CONFIG_NAME} is a small JSON object such as\n{SAMPLE_CONFIG}",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})",
            hint=f"a {CONFIG_NAME} is a small JSON object such as\n{SAMPLE_CONFIG}",
        ) from None


def _parse_document(path: Path, text: str) -> Mapping[str, Any]:
    if not text.strip():
        raise ConfigError(
            f"{path}: is empty", hint=f"a {CONFIG_NAME} needs at least\n{SAMPLE_CONFIG}"
        )
    try:
        # the seed's format, and much cheaper to load than PyYAML
        data = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_no_repeats(path))
    except RecursionError:
        raise _too_deep(path) from None
    except ValueError as json_error:  # JSONDecodeError, or an integer of thousands of digits
        data = _parse_yaml(path, text, json_error)
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: expected a mapping of keys to values, found {type(data).__name__}",
            hint='write a JSON object such as {"elb-name": "...", "application-name": "..."}',
        )
    return data


def _no_repeats(path: Path) -> Any:
    """A JSON object hook that refuses a key written twice (the last one would silently win)."""

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in pairs:
            if key in data:
                raise ConfigError(
                    f"{path}: key '{short_repr(key)[1:-1]}' is written twice",
                    hint="keep one of them; the last one would silently win",
                )
            data[key] = value
        return data

    return build


def _too_deep(path: Path) -> ConfigError:
    return ConfigError(
        f"{path}: is nested too deeply to be a config",
        hint=f"a {CONFIG_NAME} is a flat JSON object such as\n{SAMPLE_CONFIG}",
    )


def _parse_yaml(path: Path, text: str, json_error: ValueError) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise _too_deep(path) from None
    except (yaml.YAMLError, ValueError) as yaml_error:
        data = _seed_style_members(text)
        if data is not None:
            return data
        looks_like_json = text.lstrip().startswith(("{", "["))
        problem = _json_problem(json_error) if looks_like_json else _yaml_problem(yaml_error)
        raise ConfigError(
            f"{path}{problem}",
            hint="fix the syntax at that line and column (a missing ',' or quote, often"
            ' just before it); a .oopsrc is a JSON object: {"elb-name": "...", ...}',
        ) from None


def _json_problem(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f": invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
    return f": invalid JSON: {short_repr(str(error))[1:-1]}"


def _yaml_problem(error: Exception) -> str:
    where = yaml_problem_at(error)
    if where is not None:
        return f": invalid YAML at {where}"
    return f": invalid YAML: {short_repr(str(error))[1:-1]}"


def _seed_style_members(text: str) -> Mapping[str, Any] | None:
    """The seed's post shows the JSON members without the surrounding braces; accept that too."""
    if text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads("{" + text.strip().rstrip(",") + "}")
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate a parsed mapping; relative template folders resolve against the file's folder."""
    from bluegreen_hooks.gates import config as gates_config

    _reject_unknown(data, _KNOWN_KEYS, path, prefix="")
    templates = Path(_templates(data, path))
    health_check = _health_check(data, path)
    load_balancer_type = _load_balancer_type(data, path)
    gates = gates_config.parse_gates(data, path, health_check.path)
    _refuse_elb_health_behind_elbv2(gates, load_balancer_type, path)
    return Config(
        path=path,
        elb_name=_elb_name(data, "elb-name", path, required=True) or "",
        application_name=_dns_label(data, "application-name", path, required=True) or "",
        deployment_group=_deployment_group(data, path),
        s3_bucket=_matching(data, "s3-bucket", path, _BUCKET, "an S3 bucket name"),
        region=_matching(data, "region", path, _REGION, "an AWS region such as us-west-2"),
        namespace=_dns_label(data, "namespace", path, required=False) or "default",
        templates=templates if templates.is_absolute() else path.parent / templates,
        listeners=_listeners(data, path),
        health_check=health_check,
        ready_timeout=_ready_timeout(data, path),
        wait=_wait_policy(data, path),
        template_env=_template_env(data, path),
        preview_elb_name=_elb_name(data, "preview-elb-name", path, required=False),
        load_balancer_type=load_balancer_type,
        gates=gates,
        auto_rollback=gates_config.parse_auto_rollback(data, path),
        node_addresses=gates_config.parse_node_addresses(data, path),
    )


def _fail(path: Path, key: str, expected: str, got: object) -> ConfigError:
    return ConfigError(f"{path}: key '{key}': expected {expected}, got {short_repr(got)}")


def _normalised(key: str) -> str:
    return key.strip().lower().replace("_", "-").replace(" ", "-")


def _reject_unknown(
    data: Mapping[Any, Any], known: tuple[str, ...], path: Path, prefix: str
) -> None:
    for key in data:
        if key in known:
            continue
        spelled = short_repr(key)[1:-1] if isinstance(key, str) else short_repr(key)
        close = difflib.get_close_matches(_normalised(str(key)[:100]), known, n=1)
        hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        raise ConfigError(f"{path}: unknown key '{prefix}{spelled}'", hint=hint)


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


def _matching(
    data: Mapping[str, Any], key: str, path: Path, pattern: re.Pattern[str], expected: str
) -> str | None:
    value = _optional_string(data, key, path)
    if value is not None and not pattern.match(value):
        raise _fail(path, key, expected, value)
    return value


def _elb_name(data: Mapping[str, Any], key: str, path: Path, *, required: bool) -> str | None:
    value = _required_string(data, key, path) if required else _optional_string(data, key, path)
    if value is not None and not _ELB_NAME.match(value):
        raise _fail(path, key, "a load balancer name (letters, digits and '-', at most 32)", value)
    return value


def _load_balancer_type(data: Mapping[str, Any], path: Path) -> str:
    value = data.get("load-balancer-type", "classic")
    if value not in LOAD_BALANCER_TYPES:
        raise _fail(path, "load-balancer-type", " or ".join(LOAD_BALANCER_TYPES), value)
    return str(value)


def _refuse_elb_health_behind_elbv2(gates: Gates, load_balancer_type: str, path: Path) -> None:
    """`elb-health` asks a Classic ELB about its instances; an ALB/NLB has target groups."""
    from bluegreen_hooks.gates.spec import ElbHealthGate

    if load_balancer_type != "classic" and any(
        isinstance(gate, ElbHealthGate) for gate in gates.after_switch
    ):
        raise ConfigError(
            f"{path}: key 'gates.after-switch': elb-health checks a Classic ELB's instances, "
            f"and load-balancer-type is {load_balancer_type}",
            hint="drop the elb-health gate: behind an ALB/NLB every deploy and each step already "
            "waits until all the new color's targets are healthy",
        )


def _deployment_group(data: Mapping[str, Any], path: Path) -> str | None:
    value = _optional_string(data, "deployment-group", path)
    if value is not None and (len(value) > 100 or _CONTROL.search(value)):
        raise _fail(path, "deployment-group", "a deployment group name (at most 100)", value)
    return value


def _templates(data: Mapping[str, Any], path: Path) -> str:
    value = _string(data, "templates", path, default=DEFAULT_TEMPLATES)
    if len(value) > 1024 or _CONTROL.search(value):
        raise _fail(path, "templates", "a folder path", value)
    return value


def _dns_label(data: Mapping[str, Any], key: str, path: Path, *, required: bool) -> str | None:
    value = _required_string(data, key, path) if required else _optional_string(data, key, path)
    if value is not None and (problem := names.dns_label_problem(value)):
        raise ConfigError(
            f"{path}: key '{key}': expected a Kubernetes name, got {short_repr(value)}, which"
            f" {problem}",
            hint=f"e.g. {short_repr(_suggested_label(value))}",
        )
    return value


def _suggested_label(value: str) -> str:
    """A nearby valid name, for the hint: lowercase, other characters as '-', trimmed to 63."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", value.lower())[:63].strip("-")
    return cleaned or "my-app"


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


def _ready_timeout(data: Mapping[str, Any], path: Path) -> float:
    value = data.get("ready-timeout", 200)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_READY_TIMEOUT  # also refuses NaN, infinities, huge integers
    ):
        raise _fail(
            path,
            "ready-timeout",
            f"a positive number of seconds, at most {MAX_READY_TIMEOUT}",
            value,
        )
    return float(value)


def _wait_policy(data: Mapping[str, Any], path: Path) -> WaitPolicy:
    value = data.get("wait", {})
    if not isinstance(value, Mapping):
        raise _fail(path, "wait", "a mapping with image-pull-grace, crash-restarts, ...", value)
    _reject_unknown(value, tuple(_WAIT_RANGES), path, prefix="wait.")
    numbers: dict[str, Any] = {}
    for key, (low, high, whole) in _WAIT_RANGES.items():
        attribute = key.replace("-", "_")
        number = value.get(key, getattr(WaitPolicy, attribute))
        if (
            isinstance(number, bool)
            or not isinstance(number, int if whole else int | float)
            or not low <= number <= high  # also refuses NaN, infinities and huge integers
        ):
            kind = "a whole number" if whole else "a number of seconds"
            raise _fail(path, f"wait.{key}", f"{kind} from {low:g} to {high:g}", number)
        numbers[attribute] = number
    return WaitPolicy(**numbers)


def _health_check(data: Mapping[str, Any], path: Path) -> HealthCheck:
    value = data.get("health-check", {})
    if not isinstance(value, Mapping):
        raise _fail(path, "health-check", "a mapping with path, interval, timeout, ...", value)
    _reject_unknown(value, _HEALTH_KEYS, path, prefix="health-check.")
    check_path = value.get("path", HealthCheck.path)
    if (
        not isinstance(check_path, str)
        or not check_path.startswith("/")
        or len(check_path) > 1000
        or re.search(r"\s", check_path)
        or _CONTROL.search(check_path)
    ):
        raise _fail(path, "health-check.path", "a path starting with '/', no spaces", check_path)
    numbers: dict[str, int] = {}
    for key, (low, high) in _HEALTH_RANGES.items():
        number = value.get(key, getattr(HealthCheck, key.replace("-", "_")))
        if not _is_int(number) or not low <= number <= high:
            raise _fail(path, f"health-check.{key}", f"a whole number from {low} to {high}", number)
        numbers[key.replace("-", "_")] = number
    if numbers["timeout"] >= numbers["interval"]:
        raise _fail(
            path, "health-check.timeout", "less than health-check.interval", numbers["timeout"]
        )
    return HealthCheck(path=check_path, **numbers)


def _template_env(data: Mapping[str, Any], path: Path) -> tuple[str, ...]:
    value = data.get("template-env", [])
    if not isinstance(value, list) or not all(
        isinstance(n, str) and len(n) <= 100 and _ENV_NAME.match(n) for n in value
    ):
        raise _fail(path, "template-env", "a list of environment variable names", value)
    shadowing = sorted(set(value) & BUILTIN_TEMPLATE_VARIABLES)
    if shadowing:
        raise ConfigError(
            f"{path}: key 'template-env': {shadowing[0]} is already a template variable",
            hint=f"remove {shadowing[0]} from 'template-env'; templates always have it",
        )
    return tuple(value)
