"""The config's `load-balancer-type`: classic unless told, and what it refuses (exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks import errors
from bluegreen_hooks.config import load_config
from bluegreen_hooks.errors import ConfigError

WriteConfig = Callable[[dict[str, Any]], Path]


def refusal(write_config: WriteConfig, data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(data))
    assert caught.value.exit_code == errors.USAGE
    return str(caught.value)


def test_the_seed_config_means_a_classic_elb(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    assert "load-balancer-type" not in seed_config
    assert load_config(write_config(seed_config)).load_balancer_type == "classic"


@pytest.mark.parametrize("kind", ["classic", "application", "network"])
def test_each_type_is_taken(
    write_config: WriteConfig, seed_config: dict[str, Any], kind: str
) -> None:
    config = load_config(write_config({**seed_config, "load-balancer-type": kind}))

    assert config.load_balancer_type == kind


@pytest.mark.parametrize("value", ["alb", "Application", "", 1, None, ["application"]])
def test_anything_else_is_refused_naming_the_choices(
    write_config: WriteConfig, seed_config: dict[str, Any], value: object
) -> None:
    message = refusal(write_config, {**seed_config, "load-balancer-type": value})

    assert "key 'load-balancer-type': expected classic or application or network" in message


def test_an_elb_health_gate_behind_an_alb_is_refused(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    data = {
        **seed_config,
        "load-balancer-type": "application",
        "gates": {"after-switch": [{"elb-health": None}]},
    }

    message = refusal(write_config, data)

    assert "elb-health checks a Classic ELB's instances" in message
    assert load_config(write_config({**data, "load-balancer-type": "classic"})).gates.after_switch
