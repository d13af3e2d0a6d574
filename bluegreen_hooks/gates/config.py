"""Parse the config's `gates`, `auto-rollback` and `node-addresses` keys.

Every problem is a ConfigError (exit 2) naming the file, where in `gates` it is
(`gates.before-switch[1].http.successes`) and what was expected, before any API call.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bluegreen_hooks.config import MAX_HOOK_TIMEOUT, short_repr
from bluegreen_hooks.errors import ConfigError
from bluegreen_hooks.gates.spec import (
    GATE_KINDS,
    PHASES,
    AlarmsGate,
    CommandGate,
    ElbHealthGate,
    Gate,
    Gates,
    HttpGate,
    default_before_switch,
)

MAX_GATES_PER_PHASE = 20
MAX_NODE_ADDRESSES = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
EXAMPLE = (
    '"gates": {"before-switch": [{"http": {"path": "/healthcheck", "successes": 3,'
    ' "timeout": 60}}], "after-switch": [{"alarms": {"names": ["my-app-5xx"], "watch": 60}}]}'
)


class _Where:
    """A place in the config, for messages: the file and a dotted path into it."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    def at(self, part: str | int) -> _Where:
        key = f"{self.key}[{part}]" if isinstance(part, int) else f"{self.key}.{part}"
        return _Where(self.path, key)

    def fail(self, expected: str, got: object, hint: str | None = None) -> ConfigError:
        return ConfigError(
            f"{self.path}: key '{self.key}': expected {expected}, got {short_repr(got)}",
            hint=hint,
        )


def parse_gates(data: Mapping[str, Any], path: Path, health_path: str) -> Gates:
    """The `gates` key; absent, the before-switch phase checks the health-check path."""
    value = data.get("gates")
    if value is None:
        return Gates(before_switch=default_before_switch(health_path))
    where = _Where(path, "gates")
    if not isinstance(value, Mapping):
        raise where.fail(
            "a mapping with before-switch and/or after-switch lists", value, hint=EXAMPLE
        )
    _reject_unknown(value, PHASES, where)
    phases: dict[str, tuple[Gate, ...]] = {}
    for phase in PHASES:
        if phase not in value:
            continue
        phases[phase] = _phase(value[phase], where.at(phase), health_path)
        if phase == "before-switch":
            _refuse_elb_health_before_switch(phases[phase], where.at(phase))
    return Gates(
        before_switch=phases.get("before-switch", default_before_switch(health_path)),
        after_switch=phases.get("after-switch", ()),
    )


def parse_auto_rollback(data: Mapping[str, Any], path: Path) -> bool:
    value = data.get("auto-rollback", True)
    if not isinstance(value, bool):
        raise _Where(path, "auto-rollback").fail("true or false", value)
    return value


def parse_node_addresses(data: Mapping[str, Any], path: Path) -> tuple[str, ...] | None:
    """Where `http` gates reach NodePorts; absent, the Nodes API's InternalIPs."""
    value = data.get("node-addresses")
    if value is None:
        return None
    where = _Where(path, "node-addresses")
    expected = f"a list of 1 to {MAX_NODE_ADDRESSES} node IP addresses or host names"
    if not isinstance(value, list) or not 0 < len(value) <= MAX_NODE_ADDRESSES:
        raise where.fail(expected, value, hint='e.g. "node-addresses": ["10.0.1.12"]')
    for index, address in enumerate(value):
        if not isinstance(address, str) or not _is_address(address):
            raise where.at(index).fail("an IP address or host name", address)
    return tuple(dict.fromkeys(value))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return bool(_HOSTNAME.match(text))
    return True


def _reject_unknown(value: Mapping[Any, Any], known: tuple[str, ...], where: _Where) -> None:
    for key in value:
        if key in known:
            continue
        spelled = short_repr(key)[1:-1] if isinstance(key, str) else short_repr(key)
        close = difflib.get_close_matches(str(key)[:100].strip().lower(), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        raise ConfigError(f"{where.path}: unknown key '{where.key}.{spelled}'", hint=hint)


def _phase(value: object, where: _Where, health_path: str) -> tuple[Gate, ...]:
    if not isinstance(value, list) or len(value) > MAX_GATES_PER_PHASE:
        raise where.fail(
            f"a list of at most {MAX_GATES_PER_PHASE} gates ([] for none)",
            value,
            hint='e.g. [{"http": {"path": "/healthcheck"}}, {"command": "./smoke-test.sh"}]',
        )
    return tuple(_gate(entry, where.at(index), health_path) for index, entry in enumerate(value))


def _gate(entry: object, where: _Where, health_path: str) -> Gate:
    if not isinstance(entry, Mapping) or len(entry) != 1:
        raise where.fail(
            f"one gate: a mapping with one key, its type ({', '.join(GATE_KINDS)})",
            entry,
            hint='e.g. {"http": {"path": "/healthcheck"}} or {"command": "./smoke-test.sh"}',
        )
    ((kind, settings),) = entry.items()
    parse = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parse is None:
        spelled = short_repr(kind)[1:-1] if isinstance(kind, str) else short_repr(kind)
        close = difflib.get_close_matches(str(kind)[:100].strip().lower(), GATE_KINDS, n=1)
        raise ConfigError(
            f"{where.path}: key '{where.key}': unknown gate type '{spelled}'",
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + f"gate types: {', '.join(GATE_KINDS)}",
        )
    return parse(settings, where.at(kind), health_path)


# --- one parser per gate type -------------------------------------------------------------


def _http(value: object, where: _Where, health_path: str) -> HttpGate:
    if isinstance(value, str):
        value = {"path": value}
    fields = _fields(value, where, ("path", "successes", "timeout", "interval", "attempt-timeout"))
    gate_path = fields.get("path", health_path)
    if (
        not isinstance(gate_path, str)
        or not gate_path.startswith("/")
        or len(gate_path) > 1000
        or re.search(r"\s", gate_path)
        or _CONTROL.search(gate_path)
    ):
        raise where.at("path").fail("a path starting with '/', no spaces", gate_path)
    defaults = HttpGate()
    return HttpGate(
        path=gate_path,
        successes=_whole(fields, "successes", where, defaults.successes, 1, 100),
        timeout=_seconds(fields, "timeout", where, defaults.timeout, low=1),
        interval=_seconds(fields, "interval", where, defaults.interval, low=0.05, high=300),
        attempt_timeout=_seconds(
            fields, "attempt-timeout", where, defaults.attempt_timeout, low=0.05, high=300
        ),
    )


def _command(value: object, where: _Where, _health_path: str) -> CommandGate:
    if isinstance(value, str | list):
        value = {"run": value}
    fields = _fields(value, where, ("run", "timeout"), required=("run",))
    run = fields["run"]
    shell_line = isinstance(run, str) and run.strip() and len(run) <= 10_000
    argv = (
        isinstance(run, list)
        and 0 < len(run) <= 1000
        and all(isinstance(a, str) and len(a) <= 10_000 for a in run)
        and run[0].strip()
    )
    if not (shell_line or argv) or "\x00" in str(run):
        raise where.at("run").fail(
            "a command line (run by /bin/sh) or a list of arguments",
            run,
            hint='e.g. "command": "./smoke-test.sh" or "command": ["./smoke-test.sh", "--fast"]',
        )
    return CommandGate(
        run=run if isinstance(run, str) else tuple(run),
        timeout=_seconds(fields, "timeout", where, CommandGate().timeout, low=1),
    )


def _elb_health(value: object, where: _Where, _health_path: str) -> ElbHealthGate:
    fields = _fields({} if value is None else value, where, ("timeout", "interval"))
    defaults = ElbHealthGate()
    return ElbHealthGate(
        timeout=_seconds(fields, "timeout", where, defaults.timeout, low=1),
        interval=_seconds(fields, "interval", where, defaults.interval, low=0.05, high=300),
    )


def _alarms(value: object, where: _Where, _health_path: str) -> AlarmsGate:
    if isinstance(value, list):
        value = {"names": value}
    fields = _fields(value, where, ("names", "watch", "interval"), required=("names",))
    names = fields["names"]
    if (
        not isinstance(names, list)
        or not 0 < len(names) <= 100
        or not all(
            isinstance(n, str) and n.strip() and len(n) <= 255 and not _CONTROL.search(n)
            for n in names
        )
    ):
        raise where.at("names").fail(
            "a list of 1 to 100 CloudWatch alarm names", names, hint='e.g. ["my-app-5xx"]'
        )
    defaults = AlarmsGate()
    return AlarmsGate(
        names=tuple(dict.fromkeys(names)),
        watch=_seconds(fields, "watch", where, defaults.watch, low=0),
        interval=_seconds(fields, "interval", where, defaults.interval, low=0.05, high=300),
    )


_PARSERS: dict[str, Callable[[object, _Where, str], Gate]] = {
    "http": _http,
    "command": _command,
    "elb-health": _elb_health,
    "alarms": _alarms,
}


def _refuse_elb_health_before_switch(gates: tuple[Gate, ...], where: _Where) -> None:
    for index, gate in enumerate(gates):
        if isinstance(gate, ElbHealthGate):
            raise ConfigError(
                f"{where.path}: key '{where.key}[{index}]': elb-health cannot run before the"
                " switch (the load balancer still sends traffic to the old color)",
                hint="move it to gates.after-switch",
            )


# --- field helpers -------------------------------------------------------------------------


def _fields(
    value: object, where: _Where, known: tuple[str, ...], required: tuple[str, ...] = ()
) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise where.fail(f"a mapping with {', '.join(known)}", value)
    _reject_unknown(value, known, where)
    for key in required:
        if key not in value:
            raise ConfigError(
                f"{where.path}: key '{where.key}': missing '{key}'",
                hint=f"add {key}; its fields are {', '.join(known)}",
            )
    return value


def _whole(
    fields: Mapping[str, Any], key: str, where: _Where, default: int, low: int, high: int
) -> int:
    value = fields.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise where.at(key).fail(f"a whole number from {low} to {high}", value)
    return value


def _seconds(
    fields: Mapping[str, Any],
    key: str,
    where: _Where,
    default: float,
    *,
    low: float,
    high: float = MAX_HOOK_TIMEOUT,
) -> float:
    value = fields.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise where.at(key).fail(f"a number of seconds from {low:g} to {high:g}", value)
    return float(value)
