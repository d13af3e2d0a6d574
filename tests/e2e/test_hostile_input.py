"""Hostile input, property-based: config files and templates of any shape exit 2 with one
short message, never a traceback, and never reach AWS or Kubernetes (the sandbox's request
counters do not move). Most examples run `cli.main` in-process; a few run the real CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import string
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluegreen_hooks import cli
from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.world import REPO, App, make_app

KNOWN_KEYS = [
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
]
COMMANDS = (
    ["status"],
    ["deploy", "--commit", "abc1234"],
    ["render", "--commit", "abc1234"],
    ["readiness"],
    ["hook", "ValidateService"],
)
TEMPLATE_COMMANDS = (["deploy", "--commit", "abc1234"], ["render", "--commit", "abc1234"])
HOSTILE = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def base(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> App:
    """One application whose ELB exists: anything that got past validation would reach it."""
    return make_app(sandbox, tmp_path_factory.mktemp("hostile"))


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def run_in_process(sandbox: Sandbox, argv: list[str]) -> tuple[int, str, str]:
    """cli.main as the console script runs it; asserts that neither emulator was asked anything."""
    aws_before, kube_before = sandbox.aws.request_count, sandbox.kube.request_count
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([*argv, "--log-format", "json"])
    assert sandbox.aws.request_count == aws_before, f"AWS was asked: {err.getvalue()}"
    assert sandbox.kube.request_count == kube_before, f"Kubernetes was asked: {err.getvalue()}"
    return code, out.getvalue(), err.getvalue()


def assert_one_short_config_error(code: int, out: str, err: str) -> dict[str, Any]:
    assert code == 2, err
    assert "Traceback" not in err
    assert out == ""
    [line] = err.strip().splitlines()
    record: dict[str, Any] = json.loads(line)
    assert record["level"] == "error" and record["exit_code"] == 2
    assert len(record["event"]) < 400, record["event"]
    assert len(record.get("fix") or "") < 400, record["fix"]
    return record


def valid_config(app: App) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(app.config.read_text())
    return data


# --- config files -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
not_a_string = json_values.filter(lambda v: not isinstance(v, str) and v is not None)


def with_bad_char(allowed_prefix: st.SearchStrategy[str], bad: str) -> st.SearchStrategy[str]:
    return st.builds(lambda a, b: a + bad + b, allowed_prefix, st.text(max_size=5))


names = st.text(alphabet=string.ascii_lowercase + string.digits, max_size=10)
huge_ints = st.integers(min_value=10**12) | st.integers(max_value=-(10**12))
bad_value_for = {
    "elb-name": not_a_string | with_bad_char(names, "_") | st.just("e" * 33),
    "application-name": not_a_string | with_bad_char(names, "A") | st.just("a" * 64),
    "namespace": not_a_string | with_bad_char(names, ".") | st.just("n" * 64),
    "region": not_a_string | with_bad_char(names, " "),
    "s3-bucket": not_a_string | with_bad_char(names, "/"),
    "deployment-group": not_a_string | with_bad_char(names, "\n") | st.just("g" * 101),
    "preview-elb-name": not_a_string | with_bad_char(names, "_"),
    "templates": not_a_string | st.none() | with_bad_char(names, "\x00"),
    "listeners": st.just([])
    | st.lists(huge_ints | st.text() | st.floats() | st.booleans(), min_size=1, max_size=3)
    | st.integers(1, 65535).map(lambda p: [p, p])
    | json_values.filter(lambda v: not isinstance(v, list) and v is not None),
    "health-check": json_values.filter(lambda v: not isinstance(v, dict))
    | st.fixed_dictionaries(
        {},
        optional={
            "interval": huge_ints | st.integers(max_value=4),
            "timeout": st.text() | st.floats(),
            "path": st.text().filter(lambda p: not p.startswith("/")),
        },
    ).filter(bool)
    | st.dictionaries(
        st.text(min_size=1).filter(
            lambda k: (
                k not in ("path", "interval", "timeout", "unhealthy-threshold")
                and k != "healthy-threshold"
            )
        ),
        json_values,
        min_size=1,
        max_size=2,
    ),
    "ready-timeout": st.floats(allow_nan=True).filter(lambda v: not 0 < v <= 3600)
    | huge_ints
    | st.booleans()
    | st.text(),
    "template-env": json_values.filter(lambda v: not isinstance(v, list))
    | st.lists(with_bad_char(st.text(string.ascii_uppercase, max_size=5), "-"), min_size=1)
    | st.sampled_from([["COMMIT"], ["PORT", "X"]]),
}


@st.composite
def one_bad_key(draw: st.DrawFn, app: App) -> dict[str, Any]:
    data = valid_config(app)
    key = draw(st.sampled_from(sorted(bad_value_for)))
    data[key] = draw(bad_value_for[key])
    return data


unknown_keys = st.text(min_size=1, max_size=40).filter(lambda k: k not in KNOWN_KEYS)
yaml_tags = st.sampled_from(
    [
        "!!python/object:os.system",
        "!!python/object/apply:os.system ['true']",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!timestamp 2001-12-14",
        "!!omap [{a: 1}]",
        "!custom value",
        "&anchor [*anchor]",
    ]
)


def write(app: App, content: str | bytes) -> Path:
    path = app.folder / "hostile.oopsrc"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@st.composite
def hostile_config_text(draw: st.DrawFn, app: App) -> str | bytes:
    kind = draw(st.sampled_from(["bytes", "text", "json", "bad-key", "unknown-key", "tag", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=500))
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values))
    if kind == "bad-key":
        return json.dumps(draw(one_bad_key(app)))
    if kind == "unknown-key":
        return json.dumps({**valid_config(app), draw(unknown_keys): draw(json_values)})
    lines = [f"{key}: {json.dumps(value)}" for key, value in valid_config(app).items()]
    if kind == "tag":
        index = draw(st.integers(0, len(lines) - 1))
        key = lines[index].split(":", 1)[0]
        lines[index] = f"{key}: {draw(yaml_tags)}"
        return "\n".join(lines)
    depth = draw(st.integers(200, 20_000))
    key = draw(st.sampled_from([*KNOWN_KEYS, "elb-name"]))
    return json.dumps({**valid_config(app), key: None})[:-1] + f', "x": {"[" * depth}'


@HOSTILE
@given(data=st.data())
def test_any_hostile_config_is_exit_2_with_one_short_line_and_no_request(
    sandbox: Sandbox, base: App, data: st.DataObject
) -> None:
    path = write(base, data.draw(hostile_config_text(base)))
    command = data.draw(st.sampled_from(COMMANDS))

    code, out, err = run_in_process(sandbox, [*command, "--config", str(path)])

    assert_one_short_config_error(code, out, err)


# --- templates --------------------------------------------------------------------------------

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels: {{app: {label}}}
spec:
  type: NodePort
  selector: {{app: ${{APPLICATION_NAME}}, color: ${{COLOR}}}}
  ports:
    - {{port: 80, targetPort: 8080, nodePort: {node_port}}}
"""
CONTROLLER = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${{APPLICATION_NAME}}-${{COLOR}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: ${{APPLICATION_NAME}}, color: ${{COLOR}}}}
  template:
    metadata:
      labels: {{app: ${{APPLICATION_NAME}}, color: ${{COLOR}}, {extra_label}}}
    spec:
      containers:
        - {{name: web, image: "example/web:${{COMMIT}}", ports: [{{containerPort: {port}}}]}}
"""
GOOD = {
    "name": "${APPLICATION_NAME}-${COLOR}",
    "label": "${APPLICATION_NAME}",
    "node_port": "${PORT}",
    "replicas": "2",
    "extra_label": "tier: web",
    "port": "8080",
}
yaml_scalars = st.text(string.ascii_letters + string.digits + "-_./ :", max_size=80)
bad_template_part = {
    "name": st.sampled_from(["${APPLICATION_NAME}_${COLOR}", "Web-${COLOR}", "1abc", "x" * 70])
    | with_bad_char(names, "@").map(json.dumps),
    "label": st.sampled_from(["12", "true", "-leading", "'a b'", "x" * 64, "!!binary aGk="])
    | with_bad_char(names, "/").map(json.dumps),
    "node_port": st.sampled_from(["$UNKNOWN_VARIABLE", "${PORT", "$", "${lower_case}"])
    | st.from_regex(r"\$[A-Z]{3,12}", fullmatch=True).filter(lambda v: v not in ("$PORT",)),
    "replicas": huge_ints.map(str)
    | st.sampled_from(["two", "-1", "2.5", "[2]", "{a: 1}", ".nan", "!!python/name:os.system"]),
    "extra_label": st.sampled_from(
        ["tier: !!python/object/apply:os.system [true]", "tier: 2001-01-01", "? [a]: b"]
    )
    | st.builds(lambda k: f"{json.dumps(k)}: x", with_bad_char(names, "~")),
    "port": st.sampled_from(['"http-8080"', "1e400", "[1, [2, [3]]]", "*undefined"]),
}


@st.composite
def hostile_templates(draw: st.DrawFn) -> tuple[str | bytes, str]:
    kind = draw(st.sampled_from(["part", "bytes", "text", "deep", "bomb"]))
    parts = dict(GOOD)
    if kind == "part":
        which = draw(st.sampled_from(sorted(bad_template_part)))
        parts[which] = draw(bad_template_part[which])
    service: str | bytes = SERVICE.format(**parts)
    controller = CONTROLLER.format(**parts)
    if kind == "bytes":
        service = draw(st.binary(max_size=300))
    elif kind == "text":
        controller = draw(yaml_scalars)
    elif kind == "deep":
        depth = draw(st.integers(500, 20_000))
        controller += f"\nextra: {'[' * depth}{']' * depth}\n"
    elif kind == "bomb":
        bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
        for level in "bcdefghi":
            previous = chr(ord(level) - 1)
            bomb.append(f"{level}: &{level} [{', '.join([f'*{previous}'] * 10)}]")
        controller = controller.replace("spec:\n", "\n".join(["metadata2:", *bomb]) + "\nspec:\n")
    return service, controller


def write_templates(app: App, service: str | bytes, controller: str) -> Path:
    folder = app.folder / "hostile-templates"
    folder.mkdir(exist_ok=True)
    service_file = folder / f"{app.name}-service.yaml.tmpl"
    if isinstance(service, bytes):
        service_file.write_bytes(service)
    else:
        service_file.write_text(service, encoding="utf-8")
    (folder / f"{app.name}-controller.yaml.tmpl").write_text(controller, encoding="utf-8")
    config = app.folder / "hostile-templates.oopsrc"
    config.write_text(json.dumps({**valid_config(app), "templates": str(folder)}))
    return config


def test_the_good_templates_of_the_hostile_tests_render(sandbox: Sandbox, base: App) -> None:
    """The baseline the hostile variants break one part of: it renders, so a failure is theirs."""
    config = write_templates(base, SERVICE.format(**GOOD), CONTROLLER.format(**GOOD))

    code, out, err = 0, "", ""
    out_buffer, err_buffer = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_buffer), contextlib.redirect_stderr(err_buffer):
        code = cli.main(["render", "--commit", "abc1234", "--config", str(config)])
    out, err = out_buffer.getvalue(), err_buffer.getvalue()

    assert code == 0, err
    assert "kind: Deployment" in out and "kind: Service" in out


@pytest.mark.slow
@HOSTILE
@given(templates=hostile_templates(), command=st.sampled_from(TEMPLATE_COMMANDS))
def test_any_hostile_template_is_exit_2_with_one_short_line_and_no_request(
    sandbox: Sandbox, base: App, templates: tuple[str | bytes, str], command: list[str]
) -> None:
    config = write_templates(base, *templates)

    code, out, err = run_in_process(sandbox, [*command, "--config", str(config)])

    assert_one_short_config_error(code, out, err)


# --- the real CLI, a few times -----------------------------------------------------------------


Scenario = Callable[[App], list[str]]


def _yaml_tag_config(app: App) -> list[str]:
    (app.folder / "tagged.oopsrc").write_text(
        f"elb-name: {app.elb_name}\napplication-name: !!python/object/apply:os.system ['true']\n"
    )
    return ["--config", str(app.folder / "tagged.oopsrc")]


def _binary_config(app: App) -> list[str]:
    (app.folder / "binary.oopsrc").write_bytes(bytes(range(256)))
    return ["--config", str(app.folder / "binary.oopsrc")]


def _bad_template_name(app: App) -> list[str]:
    return [
        "--config",
        str(
            write_templates(
                app, SERVICE.format(**{**GOOD, "name": "Web"}), CONTROLLER.format(**GOOD)
            )
        ),
    ]


@pytest.mark.parametrize(
    ("command", "scenario"),
    [
        (["rollback"], _yaml_tag_config),
        (["deploy", "--commit", "abc1234"], _binary_config),
        (["hook", "BeforeInstall", "--commit", "abc1234"], _bad_template_name),
    ],
    ids=["rollback-yaml-tag", "deploy-binary", "hook-bad-name"],
)
def test_the_console_script_exits_2_without_a_request(
    sandbox: Sandbox, app: App, command: list[str], scenario: Scenario
) -> None:
    extra = scenario(app)
    if command[0] == "hook":  # a hook runs from an unpacked bundle, or refuses before anything
        (app.folder / "appspec.yml").write_text((REPO / "appspec.yml").read_text())
    aws_before, kube_before = sandbox.aws.request_count, sandbox.kube.request_count

    result = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", *command, *extra],
        capture_output=True,
        text=True,
        cwd=app.folder,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "appspec.yml" not in result.stderr  # refused for the scenario, not for the bundle
    assert sandbox.aws.request_count == aws_before
    assert sandbox.kube.request_count == kube_before


# --- arguments and the environment ------------------------------------------------------------

COMMIT_RULE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
DEPLOYMENT_ID_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
hostile_strings = (
    st.text(max_size=80)
    | st.sampled_from(["../../etc/passwd", "a" * 5000, "$(touch /tmp/x)", "d-1\nlevel=error"])
    | st.text(string.ascii_lowercase, min_size=1).map(lambda s: s + "/..")
)


@HOSTILE
@given(
    commit=hostile_strings.filter(lambda c: not COMMIT_RULE.fullmatch(c)),
    command=st.sampled_from(["deploy", "render"]),
)
def test_any_hostile_commit_is_exit_2_before_any_request(
    sandbox: Sandbox, base: App, commit: str, command: str
) -> None:
    code, out, err = run_in_process(
        sandbox, [command, f"--commit={commit}", "--config", str(base.config)]
    )

    assert_one_short_config_error(code, out, err)


@HOSTILE
@given(deployment_id=hostile_strings.filter(lambda d: not DEPLOYMENT_ID_RULE.fullmatch(d)))
def test_any_hostile_deployment_id_is_exit_2_before_any_request(
    sandbox: Sandbox, base: App, deployment_id: str
) -> None:
    flag = run_in_process(
        sandbox,
        [
            "deploy",
            "--commit",
            "abc1234",
            f"--deployment-id={deployment_id}",
            "--config",
            str(base.config),
        ],
    )
    assert_one_short_config_error(*flag)
    if not deployment_id or "\x00" in deployment_id:
        return  # the environment cannot hold these
    bundle = base.folder / "bundle"
    bundle.mkdir(exist_ok=True)
    (bundle / "appspec.yml").write_text((REPO / "appspec.yml").read_text())
    with environment(DEPLOYMENT_ID=deployment_id):
        hook = run_in_process(
            sandbox,
            ["hook", "BeforeInstall", "--bundle-root", str(bundle), "--config", str(base.config)],
        )
    assert_one_short_config_error(*hook)
    assert list(base.folder.parent.glob("**/bluegreen-plan-*")) == []


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_a_template_env_value_cannot_smuggle_in_another_object(sandbox: Sandbox, base: App) -> None:
    service = SERVICE.format(**GOOD) + "# note: $NOTE\n"
    config = write_templates(base, service, CONTROLLER.format(**GOOD))
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "template-env": ["NOTE"]}))
    smuggled = "x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: stolen}"

    with environment(NOTE=smuggled):
        code, out, err = run_in_process(
            sandbox, ["deploy", "--commit", "abc1234", "--config", str(config)]
        )

    record = assert_one_short_config_error(code, out, err)
    assert "unsupported kind 'Secret'" in record["event"]


kubeconfig_documents = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"apiVersion": st.just("v1"), "kind": st.just("Config")},
        optional={
            "clusters": json_values,
            "users": json_values,
            "contexts": json_values,
            "current-context": json_values,
        },
    ).map(lambda v: json.dumps(v).encode()),
    yaml_tags.map(lambda tag: f"current-context: {tag}\n".encode()),
)


@HOSTILE
@given(content=kubeconfig_documents)
def test_any_hostile_kubeconfig_is_exit_2_naming_the_file_and_no_request(
    sandbox: Sandbox, base: App, content: bytes
) -> None:
    kubeconfig = base.folder / "hostile-kubeconfig"
    kubeconfig.write_bytes(content)

    with environment(KUBECONFIG=str(kubeconfig)):
        code, out, err = run_in_process(sandbox, ["readiness", "--config", str(base.config)])

    record = assert_one_short_config_error(code, out, err)
    assert str(kubeconfig) in record["event"]
