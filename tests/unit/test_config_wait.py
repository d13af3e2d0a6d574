"""The `wait` key: how the wait for Ready fails early, what counts as stable, how often it talks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.config import WaitPolicy, load_config
from bluegreen_hooks.errors import ConfigError

WriteConfig = Callable[[dict[str, Any]], Path]


def test_defaults_are_documented_ones(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    config = load_config(write_config(seed_config))

    assert config.wait == WaitPolicy(
        image_pull_grace=30,
        crash_restarts=3,
        stable_for=0,
        stable_after_unready=10,
        progress_every=5,
    )


def test_every_key_can_be_set(write_config: WriteConfig, seed_config: dict[str, Any]) -> None:
    seed_config["wait"] = {
        "image-pull-grace": 0,
        "crash-restarts": 10,
        "stable-for": 2.5,
        "stable-after-unready": 0,
        "progress-every": 0.5,
    }

    config = load_config(write_config(seed_config))

    assert config.wait == WaitPolicy(
        image_pull_grace=0,
        crash_restarts=10,
        stable_for=2.5,
        stable_after_unready=0,
        progress_every=0.5,
    )


def test_a_partial_mapping_keeps_the_other_defaults(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    seed_config["wait"] = {"crash-restarts": 5}

    wait = load_config(write_config(seed_config)).wait

    assert (wait.crash_restarts, wait.image_pull_grace, wait.progress_every) == (5, 30, 5)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("image-pull-grace", -1, "a number of seconds from 0 to 3600"),
        ("image-pull-grace", "30s", "a number of seconds from 0 to 3600"),
        ("image-pull-grace", float("nan"), "a number of seconds from 0 to 3600"),
        ("stable-for", float("inf"), "a number of seconds from 0 to 3600"),
        ("crash-restarts", 10**400, "a whole number from 1 to 1000"),
        ("crash-restarts", 0, "a whole number from 1 to 1000"),
        ("crash-restarts", 2.5, "a whole number from 1 to 1000"),
        ("crash-restarts", True, "a whole number from 1 to 1000"),
        ("stable-for", 3601, "a number of seconds from 0 to 3600"),
        ("stable-after-unready", None, "a number of seconds from 0 to 3600"),
        ("progress-every", 0.1, "a number of seconds from 0.5 to 300"),
        ("progress-every", 1e9, "a number of seconds from 0.5 to 300"),
    ],
)
def test_bad_values_name_the_key_and_the_range(
    write_config: WriteConfig, seed_config: dict[str, Any], key: str, value: Any, expected: str
) -> None:
    seed_config["wait"] = {key: value}

    with pytest.raises(ConfigError) as refused:
        load_config(write_config(seed_config))

    assert f"key 'wait.{key}': expected {expected}" in str(refused.value)
    assert refused.value.exit_code == 2


def test_an_unknown_key_suggests_the_nearest(
    write_config: WriteConfig, seed_config: dict[str, Any]
) -> None:
    seed_config["wait"] = {"crash_restarts": 3}

    with pytest.raises(ConfigError) as refused:
        load_config(write_config(seed_config))

    assert "unknown key 'wait.crash_restarts'" in str(refused.value)
    assert refused.value.hint == "did you mean 'wait.crash-restarts'?"


def test_wait_must_be_a_mapping(write_config: WriteConfig, seed_config: dict[str, Any]) -> None:
    seed_config["wait"] = [30, 3]

    with pytest.raises(ConfigError, match="key 'wait': expected a mapping"):
        load_config(write_config(seed_config))


@pytest.mark.parametrize("value", [10**400, float("inf"), float("nan")])
def test_a_ready_timeout_beyond_any_float_is_a_config_error(
    write_config: WriteConfig, seed_config: dict[str, Any], value: Any
) -> None:
    seed_config["ready-timeout"] = value

    with pytest.raises(ConfigError, match="key 'ready-timeout': expected a positive number"):
        load_config(write_config(seed_config))
