"""The config's gates, auto-rollback and node-addresses: defaults, every gate type, and every
kind of mistake refused with where it is and how to fix it (exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks import errors
from bluegreen_hooks.config import load_config
from bluegreen_hooks.errors import ConfigError
from bluegreen_hooks.gates.spec import AlarmsGate, CommandGate, ElbHealthGate, Gates, HttpGate

WriteConfig = Callable[[dict[str, Any]], Path]


def with_gates(seed_config: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {**seed_config, **{k.replace("_", "-"): v for k, v in keys.items()}}


def refusal(write_config: WriteConfig, data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(data))
    assert caught.value.exit_code == errors.USAGE
    return str(caught.value)


# --- defaults ------------------------------------------------------------------------------


def test_a_plain_config_checks_the_health_check_path_before_the_switch(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    config = load_config(write_config(seed_config))

    assert config.gates == Gates(
        before_switch=(HttpGate(path="/healthcheck", successes=3, timeout=60),), after_switch=()
    )
    assert config.auto_rollback is True
    assert config.node_addresses is None


def test_the_default_gate_follows_a_custom_health_check_path(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    config = load_config(write_config({**seed_config, "health-check": {"path": "/status"}}))

    assert config.gates.before_switch == (HttpGate(path="/status"),)


def test_gates_naming_only_after_switch_keep_the_default_before_switch_gate(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    data = with_gates(seed_config, gates={"after-switch": [{"elb-health": None}]})

    config = load_config(write_config(data))

    assert config.gates.before_switch == (HttpGate(),)
    assert config.gates.after_switch == (ElbHealthGate(),)


def test_an_empty_before_switch_list_turns_the_default_gate_off(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    config = load_config(write_config(with_gates(seed_config, gates={"before-switch": []})))

    assert config.gates.before_switch == ()


# --- the example, every gate type ----------------------------------------------------


def test_the_documented_example_parses_into_each_gate_type(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    data = with_gates(
        seed_config,
        gates={
            "before-switch": [
                {"http": {"path": "/healthcheck", "successes": 3, "timeout": 60}},
                {"command": "./smoke-test.sh"},
            ],
            "after-switch": [
                {"elb-health": {"timeout": 120}},
                {"http": {"path": "/ready", "successes": 5, "interval": 0.5, "attempt-timeout": 2}},
                {"alarms": {"names": ["acme-5xx"], "watch": 60}},
            ],
        },
        auto_rollback=False,
        node_addresses=["10.0.1.12", "ip-10-0-1-13.ec2.internal", "fd00::1"],
    )

    config = load_config(write_config(data))

    assert config.gates.before_switch == (
        HttpGate(path="/healthcheck", successes=3, timeout=60),
        CommandGate(run="./smoke-test.sh"),
    )
    assert config.gates.after_switch == (
        ElbHealthGate(timeout=120),
        HttpGate(path="/ready", successes=5, interval=0.5, attempt_timeout=2),
        AlarmsGate(names=("acme-5xx",), watch=60),
    )
    assert config.auto_rollback is False
    assert config.node_addresses == ("10.0.1.12", "ip-10-0-1-13.ec2.internal", "fd00::1")


def test_shorthands_for_http_command_and_alarms(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    data = with_gates(
        seed_config,
        gates={
            "before-switch": [
                {"http": "/ping"},
                {"http": None},
                {"command": ["./smoke-test.sh", "--fast"]},
                {"command": {"run": "make smoke", "timeout": 30}},
            ],
            "after-switch": [{"alarms": ["a-5xx", "a-latency", "a-5xx"]}],
        },
    )

    config = load_config(write_config(data))

    assert config.gates.before_switch == (
        HttpGate(path="/ping"),
        HttpGate(path="/healthcheck"),
        CommandGate(run=("./smoke-test.sh", "--fast")),
        CommandGate(run="make smoke", timeout=30),
    )
    assert config.gates.after_switch == (AlarmsGate(names=("a-5xx", "a-latency")),)


def test_gates_written_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / ".oopsrc"
    path.write_text(
        "elb-name: my-elb\napplication-name: my-app\n"
        "gates:\n"
        "  before-switch:            # on the idle color\n"
        "    - http: {path: /healthcheck, successes: 3, timeout: 60}\n"
        "    - command: ./smoke-test.sh\n"
        "  after-switch:\n"
        "    - alarms: {names: [acme-5xx], watch: 60}\n"
        "auto-rollback: true\n"
    )

    config = load_config(path)

    assert [g.kind for g in config.gates.before_switch] == ["http", "command"]
    assert config.gates.after_switch == (AlarmsGate(names=("acme-5xx",), watch=60),)


# --- mistakes: exit 2, naming where and how to fix ---------------------------------------------


@pytest.mark.parametrize(
    ("gates", "where", "says"),
    [
        ("yes", "'gates'", "a mapping with before-switch"),
        ({"before_switch": []}, "unknown key 'gates.before_switch'", "'before-switch'"),
        ({"before-switch": {"http": {}}}, "'gates.before-switch'", "a list of at most 20 gates"),
        ({"before-switch": [{"htttp": {}}]}, "'gates.before-switch[0]'", "did you mean 'http'"),
        ({"before-switch": [{"smoke": {}}]}, "unknown gate type 'smoke'", "gate types: http"),
        (
            {"before-switch": [{"http": {}, "command": "x"}]},
            "'gates.before-switch[0]'",
            "one gate: a mapping with one key",
        ),
        (
            {"before-switch": [{"http": {"sucesses": 3}}]},
            "unknown key 'gates.before-switch[0].http.sucesses'",
            "did you mean 'successes'",
        ),
        (
            {"before-switch": [{"http": {"successes": 0}}]},
            "'gates.before-switch[0].http.successes'",
            "a whole number from 1 to 100, got 0",
        ),
        (
            {"before-switch": [{"http": {"successes": True}}]},
            "'gates.before-switch[0].http.successes'",
            "a whole number",
        ),
        (
            {"after-switch": [{"http": {"timeout": -1}}]},
            "'gates.after-switch[0].http.timeout'",
            "a number of seconds from 1 to 3600, got -1",
        ),
        (
            {"after-switch": [{"http": {"timeout": "60s"}}]},
            "'gates.after-switch[0].http.timeout'",
            "got '60s'",
        ),
        (
            {"after-switch": [{"http": {"path": "healthcheck"}}]},
            "'gates.after-switch[0].http.path'",
            "a path starting with '/'",
        ),
        (
            {"before-switch": [{"command": ""}]},
            "'gates.before-switch[0].command.run'",
            "a command line (run by /bin/sh) or a list of arguments",
        ),
        (
            {"before-switch": [{"command": {"timeout": 5}}]},
            "'gates.before-switch[0].command': missing 'run'",
            "add run",
        ),
        (
            {"before-switch": [{"command": [1, 2]}]},
            "'gates.before-switch[0].command.run'",
            "a list of arguments",
        ),
        (
            {"after-switch": [{"alarms": {"names": []}}]},
            "'gates.after-switch[0].alarms.names'",
            "a list of 1 to 100 CloudWatch alarm names",
        ),
        (
            {"after-switch": [{"alarms": {"watch": 60}}]},
            "'gates.after-switch[0].alarms': missing 'names'",
            "add names",
        ),
        (
            {"after-switch": [{"alarms": {"names": ["x"], "watch": 7200}}]},
            "'gates.after-switch[0].alarms.watch'",
            "from 0 to 3600",
        ),
        (
            {"after-switch": [{"elb-health": {"timout": 5}}]},
            "unknown key 'gates.after-switch[0].elb-health.timout'",
            "did you mean 'timeout'",
        ),
        (
            {"before-switch": [{"elb-health": {}}]},
            "'gates.before-switch[0]': elb-health cannot run before the switch",
            "move it to gates.after-switch",
        ),
    ],
)
def test_a_gates_mistake_is_refused_naming_where_and_what_was_expected(
    write_config: WriteConfig, seed_config: dict[str, Any], gates: Any, where: str, says: str
) -> None:
    message = refusal(write_config, {**seed_config, "gates": gates})

    assert where in message
    assert says in message
    assert str(write_config({}).parent) in message  # names the file


@pytest.mark.parametrize("value", ["yes", 1, None, "true"])
def test_auto_rollback_must_be_true_or_false(
    write_config: WriteConfig, seed_config: dict[str, Any], value: object
) -> None:
    message = refusal(write_config, {**seed_config, "auto-rollback": value})

    assert "key 'auto-rollback': expected true or false" in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([], "a list of 1 to 100 node IP addresses or host names"),
        ("10.0.0.1", "a list of 1 to 100"),
        (["10.0.0.1", "not an address!"], "key 'node-addresses[1]': expected an IP address"),
        ([10], "key 'node-addresses[0]'"),
    ],
)
def test_node_addresses_must_be_addresses(
    write_config: WriteConfig, seed_config: dict[str, Any], value: object, says: str
) -> None:
    assert says in refusal(write_config, {**seed_config, "node-addresses": value})


def test_too_many_gates_in_a_phase_is_refused(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    gates = {"before-switch": [{"http": None}] * 21}

    assert "at most 20 gates" in refusal(write_config, {**seed_config, "gates": gates})


def test_the_gates_key_is_suggested_for_a_near_miss(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    message = refusal(write_config, {**seed_config, "gate": {}})

    assert "unknown key 'gate'" in message
    assert "did you mean 'gates'" in message
