"""bluegreen_hooks.config: finding, reading and validating .oopsrc."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks import errors
from bluegreen_hooks.config import (
    Config,
    HealthCheck,
    find_config,
    load_config,
    parse_config,
)
from bluegreen_hooks.errors import ConfigError
from bluegreen_hooks.gates.spec import AlarmsGate, Gates, HttpGate

WriteConfig = Callable[[dict[str, Any]], Path]

SEED_POST_MEMBERS = """\
"elb-name": "triggers-octoblu-com",
"application-name": "triggers-service",
"deployment-group": "master",
"s3-bucket": "octoblu-deploy"
"""


# --- reading the seed's formats ----------------------------------------------------------------


def test_seed_oopsrc_json_loads_with_the_seed_values(write_config: WriteConfig) -> None:
    path = write_config(
        {
            "elb-name": "triggers-octoblu-com",
            "application-name": "triggers-service",
            "deployment-group": "master",
            "s3-bucket": "octoblu-deploy",
        }
    )

    config = load_config(path)

    assert config.path == path
    assert config.elb_name == "triggers-octoblu-com"
    assert config.application_name == "triggers-service"
    assert config.deployment_group == "master"
    assert config.s3_bucket == "octoblu-deploy"


def test_seed_oopsrc_gets_every_documented_default(
    write_config: WriteConfig, seed_config: dict[str, Any], tmp_path: Path
) -> None:
    config = load_config(write_config(seed_config))

    assert config.region is None
    assert config.namespace == "default"
    assert config.templates == tmp_path / ".kubernetes" / "deploy"
    assert config.listeners is None
    assert config.health_check == HealthCheck(
        path="/healthcheck", interval=30, timeout=5, unhealthy_threshold=2, healthy_threshold=2
    )
    assert config.ready_timeout == 200.0
    assert config.template_env == ()
    assert config.preview_elb_name is None


def test_only_elb_name_and_application_name_are_required(tmp_path: Path) -> None:
    config = parse_config(
        {"elb-name": "my-elb", "application-name": "my-app"}, tmp_path / ".oopsrc"
    )

    assert (config.elb_name, config.application_name) == ("my-elb", "my-app")
    assert config.deployment_group is None
    assert config.s3_bucket is None


def test_brace_less_variant_from_the_seed_post_is_accepted(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    path = tmp_path / ".oopsrc"
    path.write_text(SEED_POST_MEMBERS, encoding="utf-8")

    config = load_config(path)

    assert config == parse_config(seed_config, path)


def test_brace_less_variant_tolerates_a_trailing_comma(tmp_path: Path) -> None:
    path = tmp_path / ".oopsrc"
    path.write_text(SEED_POST_MEMBERS.rstrip() + ",\n", encoding="utf-8")

    assert load_config(path).s3_bucket == "octoblu-deploy"


def test_yaml_config_with_every_optional_key(tmp_path: Path) -> None:
    path = tmp_path / ".oopsrc"
    path.write_text(
        """\
# YAML is accepted too
elb-name: triggers-octoblu-com
application-name: triggers-service
deployment-group: master
s3-bucket: octoblu-deploy
region: us-west-2
namespace: triggers
templates: deploy/k8s
listeners: [80, 443]
health-check:
  path: /status
  interval: 10
  timeout: 3
  unhealthy-threshold: 4
  healthy-threshold: 5
ready-timeout: 90.5
template-env: [IMAGE_REGISTRY, LOG_LEVEL]
preview-elb-name: triggers-preview
gates:
  after-switch:
    - alarms: {names: [triggers-5xx], watch: 30}
auto-rollback: false
node-addresses: [10.0.1.12]
""",
        encoding="utf-8",
    )

    config = load_config(path)

    assert config == Config(
        path=path,
        elb_name="triggers-octoblu-com",
        application_name="triggers-service",
        deployment_group="master",
        s3_bucket="octoblu-deploy",
        region="us-west-2",
        namespace="triggers",
        templates=tmp_path / "deploy" / "k8s",
        listeners=(80, 443),
        health_check=HealthCheck(
            path="/status", interval=10, timeout=3, unhealthy_threshold=4, healthy_threshold=5
        ),
        ready_timeout=90.5,
        template_env=("IMAGE_REGISTRY", "LOG_LEVEL"),
        preview_elb_name="triggers-preview",
        gates=Gates(
            before_switch=(HttpGate(path="/status"),),  # the default gate: the health check's path
            after_switch=(AlarmsGate(names=("triggers-5xx",), watch=30),),
        ),
        auto_rollback=False,
        node_addresses=("10.0.1.12",),
    )


def test_the_example_apps_config_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "triggers-service" / ".oopsrc"

    config = load_config(example)

    assert config.application_name == "triggers-service"
    assert config.templates == example.parent / ".kubernetes" / "deploy"
    assert config.templates.is_dir()


# --- optional keys, one at a time ----------------------------------------------------------------


def test_relative_templates_resolve_against_the_config_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed_config: dict[str, Any]
) -> None:
    app = tmp_path / "app"
    elsewhere = tmp_path / "elsewhere"
    app.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = parse_config({**seed_config, "templates": "k8s/templates"}, app / ".oopsrc")

    assert config.templates == app / "k8s" / "templates"


def test_absolute_templates_are_kept_as_given(tmp_path: Path, seed_config: dict[str, Any]) -> None:
    folder = tmp_path / "shared-templates"

    config = parse_config({**seed_config, "templates": str(folder)}, tmp_path / "a" / ".oopsrc")

    assert config.templates == folder


def test_ready_timeout_whole_seconds_become_a_float(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    config = parse_config({**seed_config, "ready-timeout": 45}, tmp_path / ".oopsrc")

    assert config.ready_timeout == 45.0
    assert isinstance(config.ready_timeout, float)


def test_partial_health_check_keeps_defaults_for_the_rest(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    config = parse_config(
        {**seed_config, "health-check": {"path": "/ping", "healthy-threshold": 3}},
        tmp_path / ".oopsrc",
    )

    assert config.health_check == HealthCheck(
        path="/ping", interval=30, timeout=5, unhealthy_threshold=2, healthy_threshold=3
    )


@pytest.mark.parametrize(
    ("key", "value", "attribute", "expected"),
    [
        ("region", "eu-west-1", "region", "eu-west-1"),
        ("namespace", "team-a", "namespace", "team-a"),
        ("listeners", [443], "listeners", (443,)),
        ("template-env", ["_PRIVATE", "Mixed_Case9"], "template_env", ("_PRIVATE", "Mixed_Case9")),
        ("preview-elb-name", "preview-elb", "preview_elb_name", "preview-elb"),
        ("deployment-group", None, "deployment_group", None),
        ("region", None, "region", None),
        ("namespace", None, "namespace", "default"),
    ],
)
def test_optional_key_is_read_into_its_attribute(
    tmp_path: Path,
    seed_config: dict[str, Any],
    key: str,
    value: object,
    attribute: str,
    expected: object,
) -> None:
    config = parse_config({**seed_config, key: value}, tmp_path / ".oopsrc")

    assert getattr(config, attribute) == expected


def test_health_check_target_is_http_port_and_path() -> None:
    assert HealthCheck().target(30001) == "HTTP:30001/healthcheck"
    assert HealthCheck(path="/status").target(31234) == "HTTP:31234/status"


def test_config_is_frozen(tmp_path: Path, seed_config: dict[str, Any]) -> None:
    config = parse_config(seed_config, tmp_path / ".oopsrc")

    with pytest.raises(AttributeError):
        config.elb_name = "other"  # type: ignore[misc]


# --- validation errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["elb-name", "application-name"])
def test_missing_required_key_names_file_and_key(
    tmp_path: Path, seed_config: dict[str, Any], missing: str
) -> None:
    path = tmp_path / ".oopsrc"
    del seed_config[missing]

    with pytest.raises(ConfigError) as exc:
        parse_config(seed_config, path)

    assert str(path) in exc.value.message
    assert f"missing required key '{missing}'" in exc.value.message
    assert exc.value.hint is not None and missing in exc.value.hint


@pytest.mark.parametrize(
    ("key", "value", "expectation"),
    [
        ("elb-name", "", "a non-empty string"),
        ("elb-name", "   ", "a non-empty string"),
        ("elb-name", 42, "a non-empty string"),
        ("application-name", "", "a non-empty string"),
        ("application-name", "Triggers_Service", "a Kubernetes name"),
        ("application-name", "-leading-dash", "a Kubernetes name"),
        ("application-name", "a" * 64, "a Kubernetes name"),
        ("deployment-group", 7, "a non-empty string"),
        ("s3-bucket", ["octoblu-deploy"], "a non-empty string"),
        ("region", "", "a non-empty string"),
        ("namespace", "Production", "a Kubernetes name"),
        ("namespace", "team.a", "a Kubernetes name"),
        ("templates", "", "a non-empty string"),
        ("templates", 5, "a non-empty string"),
        ("listeners", [], "a non-empty list of load-balancer ports"),
        ("listeners", 80, "a non-empty list of load-balancer ports"),
        ("listeners", ["80"], "a non-empty list of load-balancer ports"),
        ("listeners", [True], "a non-empty list of load-balancer ports"),
        ("listeners", [0], "a non-empty list of load-balancer ports"),
        ("listeners", [65536], "a non-empty list of load-balancer ports"),
        ("listeners", [80, 80], "distinct ports"),
        ("health-check", "HTTP:80/healthcheck", "a mapping"),
        ("ready-timeout", 0, "a positive number of seconds"),
        ("ready-timeout", -10, "a positive number of seconds"),
        ("ready-timeout", "200", "a positive number of seconds"),
        ("ready-timeout", True, "a positive number of seconds"),
        ("ready-timeout", 3601, "at most 3600"),
        ("ready-timeout", float("inf"), "a positive number of seconds"),
        ("ready-timeout", float("nan"), "a positive number of seconds"),
        ("elb-name", "my_elb", "a load balancer name"),
        ("elb-name", "e" * 33, "a load balancer name"),
        ("preview-elb-name", "-preview", "a load balancer name"),
        ("s3-bucket", "a", "an S3 bucket name"),
        ("s3-bucket", "bucket/key", "an S3 bucket name"),
        ("region", "us west 2", "an AWS region"),
        ("deployment-group", "line\nbreak", "a deployment group name"),
        ("templates", "deploy\x00", "a folder path"),
        ("template-env", "IMAGE_TAG", "a list of environment variable names"),
        ("template-env", ["1ST"], "a list of environment variable names"),
        ("template-env", ["IMAGE-TAG"], "a list of environment variable names"),
        ("template-env", [7], "a list of environment variable names"),
        ("preview-elb-name", "", "a non-empty string"),
    ],
)
def test_invalid_value_error_names_file_key_and_expectation(
    tmp_path: Path, seed_config: dict[str, Any], key: str, value: object, expectation: str
) -> None:
    path = tmp_path / ".oopsrc"

    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, key: value}, path)

    message = exc.value.message
    assert message.startswith(f"{path}: key '{key}': expected ")
    assert expectation in message
    assert repr(value) in message


@pytest.mark.parametrize(
    ("health_check", "key", "expectation"),
    [
        ({"path": "healthcheck"}, "health-check.path", "a path starting with '/'"),
        ({"path": 8080}, "health-check.path", "a path starting with '/'"),
        ({"interval": 0}, "health-check.interval", "a whole number from 5 to 300"),
        ({"interval": 1.5}, "health-check.interval", "a whole number from 5 to 300"),
        ({"interval": 301}, "health-check.interval", "a whole number from 5 to 300"),
        ({"timeout": -1}, "health-check.timeout", "a whole number from 2 to 60"),
        ({"healthy-threshold": 11}, "health-check.healthy-threshold", "from 2 to 10"),
        ({"path": "/a b"}, "health-check.path", "no spaces"),
        ({"unhealthy-threshold": True}, "health-check.unhealthy-threshold", "whole number"),
        ({"healthy-threshold": "2"}, "health-check.healthy-threshold", "whole number"),
        ({"timeout": 30}, "health-check.timeout", "less than health-check.interval"),
        ({"interval": 5, "timeout": 6}, "health-check.timeout", "less than health-check.interval"),
    ],
)
def test_invalid_health_check_names_the_nested_key(
    tmp_path: Path,
    seed_config: dict[str, Any],
    health_check: dict[str, Any],
    key: str,
    expectation: str,
) -> None:
    path = tmp_path / ".oopsrc"

    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, "health-check": health_check}, path)

    assert exc.value.message.startswith(f"{path}: key '{key}': expected ")
    assert expectation in exc.value.message


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("elb_name", "elb-name"),
        ("applicaton-name", "application-name"),
        ("namesapce", "namespace"),
        ("ready_timeout", "ready-timeout"),
        ("listener", "listeners"),
    ],
)
def test_unknown_key_suggests_the_closest_known_key(
    tmp_path: Path, seed_config: dict[str, Any], typo: str, suggestion: str
) -> None:
    path = tmp_path / ".oopsrc"

    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, typo: "x"}, path)

    assert exc.value.message == f"{path}: unknown key '{typo}'"
    assert exc.value.hint == f"did you mean '{suggestion}'?"
    assert f"did you mean '{suggestion}'?" in str(exc.value)


def test_unknown_health_check_key_suggests_with_its_prefix(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    path = tmp_path / ".oopsrc"

    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, "health-check": {"intervall": 10}}, path)

    assert exc.value.message == f"{path}: unknown key 'health-check.intervall'"
    assert exc.value.hint == "did you mean 'health-check.interval'?"


def test_unknown_key_with_no_close_match_lists_the_known_keys(
    tmp_path: Path, seed_config: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**seed_config, "zzzz": 1}, tmp_path / ".oopsrc")

    assert "unknown key 'zzzz'" in exc.value.message
    assert exc.value.hint is not None
    assert exc.value.hint.startswith("known keys: elb-name, application-name")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('["elb-name", "application-name"]', "expected a mapping of keys to values, found list"),
        ("just a sentence", "expected a mapping of keys to values, found str"),
        ("", "is empty"),
        ("# only a comment\n", "expected a mapping of keys to values, found NoneType"),
        ('{"elb-name": "x",', "invalid JSON at line 1, column 18: Expecting property name"),
        ('"elb-name": "x", "application-name": ', "invalid YAML at line 1, column 16: expected"),
        ('{\n  "elb-name": "x"\n  "region": "y"\n}', "invalid JSON at line 3, column 3"),
        ("elb-name: x\n  region: [y\n", "invalid YAML at line 2"),
    ],
)
def test_unparseable_or_non_mapping_file_is_a_config_error_naming_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / ".oopsrc"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as exc:
        load_config(path)

    assert exc.value.message.startswith(f"{path}: ")
    assert fragment in exc.value.message


def test_missing_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / ".oopsrc"

    with pytest.raises(ConfigError) as exc:
        load_config(path)

    assert exc.value.message.startswith(f"{path}: cannot read")


def test_config_errors_exit_with_the_usage_code() -> None:
    assert ConfigError("x").exit_code == errors.USAGE == 2


# --- finding the file ----------------------------------------------------------------------------


@pytest.fixture
def four_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """One .oopsrc for each place find_config looks; the cwd is the 'cwd' folder."""
    places = {}
    for name in ("explicit", "env", "bundle", "cwd"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / ".oopsrc").write_text("{}", encoding="utf-8")
        places[name] = folder / ".oopsrc"
    monkeypatch.chdir(tmp_path / "cwd")
    return places


def test_find_config_prefers_the_explicit_flag(
    four_configs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUEGREEN_CONFIG", str(four_configs["env"]))

    found = find_config(str(four_configs["explicit"]), bundle_root=four_configs["bundle"].parent)

    assert found == four_configs["explicit"]


def test_find_config_then_the_environment_variable(
    four_configs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUEGREEN_CONFIG", str(four_configs["env"]))

    assert find_config(None, bundle_root=four_configs["bundle"].parent) == four_configs["env"]


def test_find_config_then_the_bundle_root(four_configs: dict[str, Path]) -> None:
    assert find_config(None, bundle_root=four_configs["bundle"].parent) == four_configs["bundle"]


def test_find_config_then_the_working_directory(four_configs: dict[str, Path]) -> None:
    assert find_config(None).resolve() == four_configs["cwd"].resolve()


def test_find_config_ignores_an_empty_environment_variable(
    four_configs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUEGREEN_CONFIG", "")

    assert find_config(None).resolve() == four_configs["cwd"].resolve()


def test_find_config_falls_back_to_cwd_when_bundle_root_has_no_config(
    four_configs: dict[str, Path], tmp_path: Path
) -> None:
    empty_bundle = tmp_path / "empty-bundle"
    empty_bundle.mkdir()

    assert find_config(None, bundle_root=empty_bundle).resolve() == four_configs["cwd"].resolve()


@pytest.mark.parametrize("origin", ["--config", "BLUEGREEN_CONFIG"])
def test_find_config_named_file_that_does_not_exist_is_an_error_without_fallback(
    four_configs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    missing = tmp_path / "typo" / ".oopsrc"
    if origin == "BLUEGREEN_CONFIG":
        monkeypatch.setenv("BLUEGREEN_CONFIG", str(missing))

    with pytest.raises(ConfigError) as exc:
        find_config(str(missing) if origin == "--config" else None)

    assert exc.value.message == f"{origin} names {missing}, which is not a file"


def test_find_config_named_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        find_config(str(tmp_path))

    assert "which is not a file" in exc.value.message


def test_find_config_nothing_found_lists_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    work = tmp_path / "work"
    bundle.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)

    with pytest.raises(ConfigError) as exc:
        find_config(None, bundle_root=bundle)

    assert str(bundle / ".oopsrc") in exc.value.message
    assert str(Path.cwd() / ".oopsrc") in exc.value.message
    assert exc.value.hint is not None
    assert "--config" in exc.value.hint and "BLUEGREEN_CONFIG" in exc.value.hint
