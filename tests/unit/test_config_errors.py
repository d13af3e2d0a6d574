"""Config errors in the seed's helpful spirit: where we looked, what to write, what was meant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.config import SAMPLE_CONFIG, find_config, load_config, parse_config
from bluegreen_hooks.errors import ConfigError


def _load(tmp_path: Path, content: str | bytes) -> ConfigError:
    path = tmp_path / ".oopsrc"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.message.startswith(f"{path}: ")
    return exc.value


# --- no config ----------------------------------------------------------------------------------


def test_no_config_names_every_place_looked_the_keys_needed_and_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, cwd = tmp_path / "bundle", tmp_path / "cwd"
    bundle.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    with pytest.raises(ConfigError) as exc:
        find_config(None, bundle_root=bundle)

    message, hint = exc.value.message, exc.value.hint or ""
    assert "--config" in message and "$BLUEGREEN_CONFIG" in message
    assert str(bundle / ".oopsrc") in message
    assert str(cwd.resolve() / ".oopsrc") in message or str(cwd / ".oopsrc") in message
    assert "'elb-name'" in hint and "'application-name'" in hint
    assert SAMPLE_CONFIG in hint


def test_the_sample_in_the_hint_is_itself_a_valid_config(tmp_path: Path) -> None:
    config = parse_config(json.loads(SAMPLE_CONFIG), tmp_path / ".oopsrc")

    assert config.application_name == "my-app"


# --- parse errors ---------------------------------------------------------------------------------


def test_invalid_json_shows_line_column_and_the_parsers_complaint(tmp_path: Path) -> None:
    error = _load(tmp_path, '{\n  "elb-name": "a",\n  "application-name" "b"\n}\n')

    assert error.message.endswith("invalid JSON at line 3, column 22: Expecting ':' delimiter")


def test_invalid_yaml_shows_line_and_column_but_never_the_files_text(tmp_path: Path) -> None:
    error = _load(tmp_path, "elb-name: secret-looking-value\napplication-name: [unclosed\n")

    assert "invalid YAML at line 3, column 1" in error.message
    assert "secret-looking-value" not in str(error)


def test_yaml_python_tags_are_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    error = _load(
        tmp_path,
        f"elb-name: !!python/object/apply:os.system ['touch {marker}']\napplication-name: a\n",
    )

    assert "invalid YAML at line 1, column 11" in error.message
    assert "could not determine a constructor" in error.message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\xff\xfe{}", "is not UTF-8 text (byte 0xff at offset 0)"),
        ("[" * 60_000, "nested too deeply"),
        ("a: " + "[" * 20_000, "nested too deeply"),
        ('{"ready-timeout": ' + "9" * 5000 + "}", "invalid JSON"),
        (" " * 70_000, "larger than 64 KiB"),
    ],
    ids=["binary", "deep-json", "deep-yaml", "huge-integer", "huge-file"],
)
def test_hostile_files_are_one_short_config_error(
    tmp_path: Path, content: str | bytes, fragment: str
) -> None:
    error = _load(tmp_path, content)

    assert fragment in error.message
    assert len(error.message) < 300 + len(str(tmp_path))


# --- unknown keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("ELB_NAME", "elb-name"), ("Application Name", "application-name"), ("s3bucket", "s3-bucket")],
)
def test_unknown_key_in_another_spelling_names_the_nearest_known_key(
    tmp_path: Path, seed_config: dict[str, Any], typo: str, suggestion: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, typo: "x"}, tmp_path / ".oopsrc")

    assert exc.value.hint == f"did you mean '{suggestion}'?"


def test_a_huge_unknown_key_is_quoted_short(tmp_path: Path, seed_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, "k" * 100_000: 1}, tmp_path / ".oopsrc")

    assert len(str(exc.value)) < 500 + len(str(tmp_path))


def test_template_env_may_not_shadow_a_builtin_variable(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, "template-env": ["IMAGE", "COMMIT"]}, tmp_path / ".oopsrc")

    assert "COMMIT is already a template variable" in exc.value.message


# --- require --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["s3-bucket", "deployment-group", "preview-elb-name"])
def test_require_returns_an_optional_key_that_is_set(
    tmp_path: Path, seed_config: dict[str, Any], key: str
) -> None:
    config = parse_config({**seed_config, "preview-elb-name": "preview"}, tmp_path / ".oopsrc")

    assert config.require(key) == {**seed_config, "preview-elb-name": "preview"}[key]


@pytest.mark.parametrize("key", ["s3-bucket", "deployment-group", "preview-elb-name"])
def test_require_of_a_missing_key_is_exit_2_naming_key_file_and_command(
    tmp_path: Path, key: str
) -> None:
    path = tmp_path / ".oopsrc"
    config = parse_config({"elb-name": "e", "application-name": "a"}, path)

    with pytest.raises(ConfigError) as exc:
        config.require(key, needed_by="oops deploy")

    assert exc.value.exit_code == 2
    assert exc.value.message.startswith(f"{path}: oops deploy needs '{key}' (")
    assert exc.value.hint == f'add "{key}": "..." to {path}'


def test_require_of_a_key_that_is_not_optional_is_a_programming_error(tmp_path: Path) -> None:
    config = parse_config({"elb-name": "e", "application-name": "a"}, tmp_path / ".oopsrc")

    with pytest.raises(ValueError, match="s3_bucket"):
        config.require("s3_bucket")


def test_a_key_written_twice_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    error = _load(tmp_path, '{"elb-name": "a", "application-name": "b", "elb-name": "c"}')

    assert error.message.endswith("key 'elb-name' is written twice")


def test_a_byte_order_mark_from_a_windows_editor_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / ".oopsrc"
    path.write_text('\ufeff{"elb-name": "a", "application-name": "b"}', encoding="utf-8")

    assert load_config(path).elb_name == "a"


def test_an_empty_file_says_so_and_shows_a_sample(tmp_path: Path) -> None:
    error = _load(tmp_path, "  \n")

    assert error.message.endswith(": is empty")
    assert SAMPLE_CONFIG in (error.hint or "")


def test_the_builtin_variables_template_env_may_not_shadow_are_the_ones_templates_get(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    from bluegreen_hooks.colors import Ports
    from bluegreen_hooks.config import BUILTIN_TEMPLATE_VARIABLES
    from bluegreen_hooks.plan import template_variables

    config = parse_config(seed_config, tmp_path / ".oopsrc")

    given = template_variables(config, Ports(blue=30001, green=30002), "blue", "abc1234", "d-1")

    assert set(given) == BUILTIN_TEMPLATE_VARIABLES
