"""bluegreen_hooks.plan: template variables, rendering, commit checks and the plan itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.colors import Color, Ports
from bluegreen_hooks.config import Config, parse_config
from bluegreen_hooks.errors import ConfigError, TemplateError, UsageError
from bluegreen_hooks.plan import Plan, check_commit, make_plan, render, template_variables
from bluegreen_hooks.templates import ANNOTATION_HASH, LABEL_COLOR, LABEL_COMMIT

APP = "triggers-service"
PORTS = Ports(blue=30001, green=30002)
COMMIT = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"

# The seed's layout: one Service and one ReplicationController template per color.
SEED_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: triggers-service-{color}
spec:
  type: NodePort
  selector:
    name: triggers-service-{color}
  ports:
    - port: 80
      targetPort: 80
      nodePort: ${{{port_variable}}}
"""

SEED_CONTROLLER = """\
apiVersion: v1
kind: ReplicationController
metadata:
  name: triggers-service-{color}
spec:
  replicas: 2
  selector:
    name: triggers-service-{color}
  template:
    metadata:
      labels:
        name: triggers-service-{color}
    spec:
      containers:
        - name: triggers-service-{color}
          image: octoblu/triggers-service:$SHORT_COMMIT
          env:
            - name: DEPLOYMENT
              value: "$DEPLOYMENT_ID"
"""

# The color-agnostic layout: one Service and one apps/v1 Deployment for both colors.
AGNOSTIC_SERVICE = """\
# Cost: $$0. Traffic reaches $PORT, the ${COLOR} port.
apiVersion: v1
kind: Service
metadata:
  name: ${APPLICATION_NAME}-${COLOR}
  namespace: $NAMESPACE
spec:
  type: NodePort
  selector:
    app: $APPLICATION_NAME
    color: $COLOR
  ports:
    - name: http
      port: 80
      nodePort: $PORT
"""

AGNOSTIC_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${APPLICATION_NAME}-${COLOR}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: $APPLICATION_NAME
      color: $COLOR
  template:
    metadata:
      labels:
        app: $APPLICATION_NAME
        color: $COLOR
    spec:
      containers:
        - name: app
          image: octoblu/${APPLICATION_NAME}:$COMMIT
          env:
            - {name: OLD_COLOR, value: $OLD_COLOR}
            - {name: OLD_PORT, value: "$OLD_PORT"}
"""


def _config(tmp_path: Path, **extra: Any) -> Config:
    data: dict[str, Any] = {"elb-name": "triggers-octoblu-com", "application-name": APP}
    data.update(extra)
    return parse_config(data, tmp_path / ".oopsrc")


def _templates(tmp_path: Path) -> Path:
    folder = tmp_path / ".kubernetes" / "deploy"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def seed_layout(tmp_path: Path) -> Config:
    folder = _templates(tmp_path)
    for color in ("blue", "green"):
        variable = f"{color.upper()}_PORT"
        (folder / f"{APP}-{color}-service.yaml.tmpl").write_text(
            SEED_SERVICE.format(color=color, port_variable=variable), encoding="utf-8"
        )
        (folder / f"{APP}-{color}-controller.yaml.tmpl").write_text(
            SEED_CONTROLLER.format(color=color), encoding="utf-8"
        )
    return _config(tmp_path)


@pytest.fixture
def agnostic_layout(tmp_path: Path) -> Config:
    folder = _templates(tmp_path)
    (folder / f"{APP}-service.yaml.tmpl").write_text(AGNOSTIC_SERVICE, encoding="utf-8")
    (folder / f"{APP}-controller.yaml.tmpl").write_text(AGNOSTIC_DEPLOYMENT, encoding="utf-8")
    return _config(tmp_path, namespace="triggers")


# --- template_variables --------------------------------------------------------------------------


def test_template_variables_for_green_with_blue_live(tmp_path: Path) -> None:
    variables = template_variables(_config(tmp_path), PORTS, "green", COMMIT, "d-ABC123")

    assert variables == {
        "BLUE_PORT": "30001",
        "GREEN_PORT": "30002",
        "NEW_PORT": "30002",
        "OLD_PORT": "30001",
        "NEW_COLOR": "green",
        "OLD_COLOR": "blue",
        "COLOR": "green",
        "PORT": "30002",
        "COMMIT": COMMIT,
        "SHORT_COMMIT": "0a1b2c3",
        "APPLICATION_NAME": APP,
        "NAMESPACE": "default",
        "DEPLOYMENT_ID": "d-ABC123",
    }


def test_template_variables_for_blue_swap_old_and_new(tmp_path: Path) -> None:
    variables = template_variables(_config(tmp_path), PORTS, "blue", "abc", "d-1")

    assert (variables["NEW_COLOR"], variables["NEW_PORT"]) == ("blue", "30001")
    assert (variables["OLD_COLOR"], variables["OLD_PORT"]) == ("green", "30002")
    assert (variables["COLOR"], variables["PORT"]) == ("blue", "30001")
    assert variables["SHORT_COMMIT"] == "abc"


def test_template_variables_use_the_configured_namespace(tmp_path: Path) -> None:
    config = _config(tmp_path, namespace="team-a")

    assert template_variables(config, PORTS, "blue", "abc", "d-1")["NAMESPACE"] == "team-a"


def test_template_env_adds_set_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_REGISTRY", "registry.example.com")
    monkeypatch.setenv("EMPTY_ONE", "")
    config = _config(tmp_path, **{"template-env": ["IMAGE_REGISTRY", "EMPTY_ONE"]})

    variables = template_variables(config, PORTS, "blue", "abc", "d-1")

    assert variables["IMAGE_REGISTRY"] == "registry.example.com"
    assert variables["EMPTY_ONE"] == ""


def test_environment_variables_not_in_template_env_are_not_offered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_REGISTRY", "registry.example.com")

    variables = template_variables(_config(tmp_path), PORTS, "blue", "abc", "d-1")

    assert "IMAGE_REGISTRY" not in variables
    assert "HOME" not in variables


def test_template_env_naming_an_unset_variable_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAGE_REGISTRY", raising=False)
    config = _config(tmp_path, **{"template-env": ["IMAGE_REGISTRY"]})

    with pytest.raises(ConfigError) as exc:
        template_variables(config, PORTS, "blue", "abc", "d-1")

    assert exc.value.message == (
        f"{config.path}: 'template-env' names IMAGE_REGISTRY, which is not set in the environment"
    )
    assert exc.value.hint is not None and "export IMAGE_REGISTRY=" in exc.value.hint


# --- render --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("color", "port"), [("blue", 30001), ("green", 30002)])
def test_render_seed_layout_uses_the_colors_own_files(
    seed_layout: Config, color: Color, port: int
) -> None:
    services, workloads = render(seed_layout, PORTS, color, COMMIT, "d-1")

    [service] = services
    [controller] = workloads
    assert service["metadata"]["name"] == f"triggers-service-{color}"
    assert service["spec"]["ports"][0]["nodePort"] == port
    assert controller["kind"] == "ReplicationController"
    assert controller["metadata"]["name"] == f"triggers-service-{color}"


def test_render_seed_layout_substitutes_commit_and_deployment_id(seed_layout: Config) -> None:
    _, (controller,) = render(seed_layout, PORTS, "green", COMMIT, "d-XYZ")

    [container] = controller["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "octoblu/triggers-service:0a1b2c3"
    assert container["env"] == [{"name": "DEPLOYMENT", "value": "d-XYZ"}]


def test_render_stamps_every_object(seed_layout: Config) -> None:
    (service,), (controller,) = render(seed_layout, PORTS, "green", COMMIT, "d-1")

    for manifest in (service, controller):
        assert manifest["metadata"]["labels"][LABEL_COLOR] == "green"
        assert manifest["metadata"]["namespace"] == "default"
        assert ANNOTATION_HASH in manifest["metadata"]["annotations"]
    assert controller["metadata"]["labels"][LABEL_COMMIT] == COMMIT
    assert controller["spec"]["template"]["metadata"]["labels"][LABEL_COMMIT] == COMMIT
    assert controller["spec"]["template"]["metadata"]["labels"][LABEL_COLOR] == "green"


def test_render_color_agnostic_deployment_layout(agnostic_layout: Config) -> None:
    (service,), (deployment,) = render(agnostic_layout, PORTS, "green", COMMIT, "d-1")

    assert service["metadata"]["name"] == "triggers-service-green"
    assert service["metadata"]["namespace"] == "triggers"
    assert service["spec"]["selector"] == {"app": APP, "color": "green"}
    assert service["spec"]["ports"][0]["nodePort"] == 30002
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["replicas"] == 3
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"octoblu/triggers-service:{COMMIT}"
    assert container["env"] == [
        {"name": "OLD_COLOR", "value": "blue"},
        {"name": "OLD_PORT", "value": "30001"},
    ]


def test_render_color_agnostic_layout_for_blue(agnostic_layout: Config) -> None:
    (service,), (deployment,) = render(agnostic_layout, PORTS, "blue", COMMIT, "d-1")

    assert service["spec"]["ports"][0]["nodePort"] == 30001
    assert deployment["metadata"]["name"] == "triggers-service-blue"


def test_render_the_example_application() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "triggers-service" / ".oopsrc"
    config = parse_config(
        {"elb-name": "e", "application-name": APP, "templates": ".kubernetes/deploy"}, example
    )

    (service,), (deployment,) = render(config, PORTS, "blue", COMMIT, "d-1")

    assert service["spec"]["ports"][0]["nodePort"] == 30001
    assert deployment["kind"] == "Deployment"


def test_render_reports_an_unknown_variable_with_its_file(tmp_path: Path) -> None:
    folder = _templates(tmp_path)
    service = folder / f"{APP}-service.yaml.tmpl"
    service.write_text(AGNOSTIC_SERVICE + "    - port: $HTTPS_PORT\n", encoding="utf-8")
    (folder / f"{APP}-controller.yaml.tmpl").write_text(AGNOSTIC_DEPLOYMENT, encoding="utf-8")

    with pytest.raises(TemplateError) as exc:
        render(_config(tmp_path), PORTS, "blue", COMMIT, "d-1")

    line = AGNOSTIC_SERVICE.count("\n") + 1
    assert exc.value.message == f"{service}:{line}: unknown template variable $HTTPS_PORT"


def test_render_without_templates_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no templates for triggers-service"):
        render(_config(tmp_path), PORTS, "blue", COMMIT, "d-1")


@pytest.mark.parametrize(
    "node_port_line",
    ["      nodePort: 30999", "      nodePort: $OLD_PORT", "      port: 8080"],
)
def test_render_requires_a_service_port_on_the_colors_node_port(
    tmp_path: Path, node_port_line: str
) -> None:
    folder = _templates(tmp_path)
    service = folder / f"{APP}-service.yaml.tmpl"
    service.write_text(
        AGNOSTIC_SERVICE.replace("      nodePort: $PORT", node_port_line), encoding="utf-8"
    )
    (folder / f"{APP}-controller.yaml.tmpl").write_text(AGNOSTIC_DEPLOYMENT, encoding="utf-8")

    with pytest.raises(TemplateError) as exc:
        render(_config(tmp_path), PORTS, "green", COMMIT, "d-1")

    assert exc.value.message == (
        f"{service}: no Service port has nodePort 30002, the green port tagged on the ELB"
    )
    assert exc.value.hint is not None and "nodePort: $PORT" in exc.value.hint


def test_render_node_port_check_accepts_any_of_several_services(tmp_path: Path) -> None:
    folder = _templates(tmp_path)
    other = AGNOSTIC_SERVICE.replace("${APPLICATION_NAME}-${COLOR}", "metrics").replace(
        "nodePort: $PORT", "nodePort: 31000"
    )
    (folder / f"{APP}-service.yaml.tmpl").write_text(
        other + "---\n" + AGNOSTIC_SERVICE, encoding="utf-8"
    )
    (folder / f"{APP}-controller.yaml.tmpl").write_text(AGNOSTIC_DEPLOYMENT, encoding="utf-8")

    services, _ = render(_config(tmp_path), PORTS, "blue", COMMIT, "d-1")

    assert [s["metadata"]["name"] for s in services] == ["metrics", "triggers-service-blue"]


def test_render_service_with_an_empty_spec_is_a_template_error(tmp_path: Path) -> None:
    folder = _templates(tmp_path)
    (folder / f"{APP}-service.yaml.tmpl").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n", encoding="utf-8"
    )
    (folder / f"{APP}-controller.yaml.tmpl").write_text(AGNOSTIC_DEPLOYMENT, encoding="utf-8")

    with pytest.raises(TemplateError, match="no Service port has nodePort 30001"):
        render(_config(tmp_path), PORTS, "blue", COMMIT, "d-1")


@pytest.mark.parametrize(
    ("service_text", "controller_text", "bad_file", "fragment"),
    [
        (
            AGNOSTIC_DEPLOYMENT,
            AGNOSTIC_DEPLOYMENT,
            "service",
            "holds a Deployment, expected Service",
        ),
        (
            AGNOSTIC_SERVICE,
            AGNOSTIC_SERVICE,
            "controller",
            "holds a Service, expected Deployment or ReplicationController",
        ),
        ("# nothing\n", AGNOSTIC_DEPLOYMENT, "service", "renders no objects"),
        (AGNOSTIC_SERVICE, "", "controller", "renders no objects"),
    ],
)
def test_render_checks_each_file_holds_its_kind(
    tmp_path: Path, service_text: str, controller_text: str, bad_file: str, fragment: str
) -> None:
    folder = _templates(tmp_path)
    (folder / f"{APP}-service.yaml.tmpl").write_text(service_text, encoding="utf-8")
    (folder / f"{APP}-controller.yaml.tmpl").write_text(controller_text, encoding="utf-8")

    with pytest.raises(TemplateError) as exc:
        render(_config(tmp_path), PORTS, "blue", COMMIT, "d-1")

    assert exc.value.message.startswith(f"{folder / f'{APP}-{bad_file}.yaml.tmpl'}: ")
    assert fragment in exc.value.message


# --- check_commit --------------------------------------------------------------------------------


@pytest.mark.parametrize("commit", [COMMIT, "0a1b2c3", "a", "v1.2.3", "release_2024-01", "A" * 63])
def test_check_commit_accepts_label_safe_values(commit: str) -> None:
    assert check_commit(commit) == commit


@pytest.mark.parametrize(
    "commit", ["", "-abc", "abc-", ".abc", "abc_", "a b", "a/b", "abc\n", "A" * 64, "héllo"]
)
def test_check_commit_rejects_values_that_are_not_label_safe(commit: str) -> None:
    with pytest.raises(UsageError) as exc:
        check_commit(commit)

    assert repr(commit) in exc.value.message
    assert exc.value.exit_code == 2


# --- make_plan -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "idle", "idle_port", "active_port"),
    [("blue", "green", 30002, 30001), ("green", "blue", 30001, 30002)],
)
def test_make_plan_targets_the_idle_color_and_both_ports(
    agnostic_layout: Config, active: Color, idle: Color, idle_port: int, active_port: int
) -> None:
    plan = make_plan(agnostic_layout, PORTS, active, COMMIT, "d-ABC123")

    assert (plan.color, plan.port) == (idle, idle_port)
    assert (plan.old_color, plan.old_port) == (active, active_port)
    assert plan.application == APP
    assert plan.namespace == "triggers"
    assert plan.commit == COMMIT
    assert plan.deployment_id == "d-ABC123"
    assert [s["spec"]["ports"][0]["nodePort"] for s in plan.services] == [idle_port]
    assert [w["metadata"]["labels"][LABEL_COLOR] for w in plan.workloads] == [idle]


def test_make_plan_equals_rendering_the_idle_color(seed_layout: Config) -> None:
    plan = make_plan(seed_layout, PORTS, "green", COMMIT, "d-1")

    assert (plan.services, plan.workloads) == render(seed_layout, PORTS, "blue", COMMIT, "d-1")


def test_make_plan_rejects_a_bad_commit_before_rendering(tmp_path: Path) -> None:
    # No templates exist: the commit check must come first.
    with pytest.raises(UsageError, match="commit 'not a sha' is not usable"):
        make_plan(_config(tmp_path), PORTS, "blue", "not a sha", "d-1")


def test_plan_json_round_trip(agnostic_layout: Config) -> None:
    plan = make_plan(agnostic_layout, PORTS, "blue", COMMIT, "d-1")

    restored = Plan.from_json(plan.to_json())

    assert restored == plan
    assert isinstance(restored.services, tuple)
    assert isinstance(restored.workloads, tuple)


def test_plan_json_is_plain_sorted_json(agnostic_layout: Config) -> None:
    plan = make_plan(agnostic_layout, PORTS, "blue", COMMIT, "d-1")

    data = json.loads(plan.to_json())

    assert list(data) == sorted(data)
    assert data["color"] == "green"
    assert data["old_port"] == 30001
    assert data["services"][0]["kind"] == "Service"


def test_plan_from_json_rejects_an_unknown_color(agnostic_layout: Config) -> None:
    data = json.loads(make_plan(agnostic_layout, PORTS, "blue", COMMIT, "d-1").to_json())
    data["color"] = "purple"

    with pytest.raises(ValueError, match="not a color: 'purple'"):
        Plan.from_json(json.dumps(data))
