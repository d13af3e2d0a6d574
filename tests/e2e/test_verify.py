"""`bluegreen verify`: the gates by hand against either color, reporting each, touching nothing;
and gates config mistakes that stop every command before any API call (exit 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.test_gates import QUICK_HTTP, UNHEALTHY, V1, deployed, use_gates
from tests.e2e.world import App


def verify(app: App, *argv: str) -> tuple[int, Any]:
    result = app.bluegreen("verify", "--output", "json", *argv)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def product_aws_operations(sandbox: Sandbox) -> dict[tuple[str, str, str], int]:
    return {op: n for op, n in sandbox.aws.operations.counts().items() if op[0] == "product"}


def test_verify_reports_every_gate_on_both_colors_as_json_and_touches_nothing(app: App) -> None:
    use_gates(app, after=[QUICK_HTTP])
    deployed(app, V1)  # green live
    assert app.bluegreen("deploy", "--commit", UNHEALTHY).returncode == 1  # blue idle, answers 500
    before = app.snapshot()
    aws_before = product_aws_operations(app.sandbox)

    live_code, live = verify(app)
    idle_code, idle = verify(app, "--color", "blue")

    assert live_code == 0
    assert live["application"] == app.name
    assert (live["color"], live["role"], live["phase"], live["port"]) == (
        "green",
        "live",
        "after-switch",
        app.green,
    )
    assert live["commit"] == V1 and live["passed"] is True
    assert [(g["gate"], g["passed"]) for g in live["gates"]] == [("http /healthcheck", True)]
    assert set(live["gates"][0]["attempts"]) == {"200 OK"}

    assert idle_code == 1
    assert (idle["color"], idle["role"], idle["phase"], idle["commit"]) == (
        "blue",
        "idle",
        "before-switch",
        UNHEALTHY,
    )
    assert [(g["gate"], g["passed"]) for g in idle["gates"]] == [
        ("structure", True),  # its Service routes to exactly its Ready pods...
        ("http /healthcheck", False),  # ...which answer 500
    ]
    assert set(idle["gates"][1]["attempts"]) == {"500 Internal Server Error"}

    assert app.snapshot() == before
    used = {
        op[2] for op, n in product_aws_operations(app.sandbox).items() if n > aws_before.get(op, 0)
    }
    assert used == {"DescribeLoadBalancers", "DescribeTags"}


def test_verify_in_text_lists_each_gate_with_pass_or_fail(app: App) -> None:
    use_gates(app)
    deployed(app, V1)

    result = app.bluegreen("verify", "--phase", "before-switch", "--color", "green")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{app.name}: before-switch gates on green (live, port {app.green}, commit {V1})"
    )
    assert lines[1].startswith(f"  pass  structure: Service on NodePort {app.green} routes")
    assert lines[2].startswith("  pass  http /healthcheck: 2 consecutive 2xx from ")


def test_verify_of_a_color_never_deployed_fails_every_check_saying_why(app: App) -> None:
    use_gates(app)

    code, report = verify(app, "--color", "green")

    assert code == 1
    structure, http = report["gates"]
    assert structure["gate"] == "structure"
    assert structure["summary"] == (
        f"no Service of green exposes NodePort {app.green} (it has no Service)"
    )
    assert http["gate"] == "http /healthcheck" and not http["passed"]
    assert set(http["attempts"]) == {"connection refused"}  # nothing listens on its NodePort


@pytest.mark.parametrize(
    ("gates", "says"),
    [
        ({"before-switch": [{"htp": {}}]}, "unknown gate type 'htp'"),
        ({"after-switch": [{"alarms": {"names": "acme-5xx"}}]}, "alarms.names"),
        ({"before-switch": [{"http": {"successes": 0}}]}, "http.successes"),
    ],
)
@pytest.mark.parametrize("command", [["deploy", "--commit", V1], ["verify"]])
def test_a_gates_mistake_exits_2_before_any_api_call(
    app: App, gates: dict[str, Any], says: str, command: list[str]
) -> None:
    app.settings(gates=gates)
    sandbox = app.sandbox
    aws_before, kube_before = sandbox.aws.request_count, sandbox.kube.request_count

    result = app.bluegreen(*command)

    assert result.returncode == 2
    assert says in result.stderr and str(app.config) in result.stderr
    assert sandbox.aws.request_count == aws_before
    assert sandbox.kube.request_count == kube_before


def test_verify_runs_command_gates_in_the_config_folder_with_the_runs_environment(
    app: App,
) -> None:
    script = app.folder / "env.sh"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$GATE_PHASE $NEW_COLOR $NEW_PORT $OLD_COLOR $OLD_PORT $APPLICATION $PWD"\n'
        'echo "$DEPLOYMENT_ID" >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    use_gates(app, after=[{"command": "./env.sh"}, {"command": ["./missing.sh", "--fast"]}])

    code, report = verify(app)  # the live color: blue, which nothing was deployed to

    assert code == 1
    ran, missing = report["gates"]
    folder = app.folder.resolve()
    assert ran["summary"].startswith("exit 1 after ")
    assert ran["output"][0] == f"after-switch blue {app.blue} green {app.green} {app.name} {folder}"
    assert ran["output"][1].startswith("verify-")
    assert missing["summary"] == f"cannot run ./missing.sh in {folder}: No such file or directory"


def test_an_http_gate_asks_every_node_and_fails_when_one_of_them_does_not_answer(
    app: App,
) -> None:
    use_gates(app, after=[QUICK_HTTP])
    deployed(app, V1)  # green live, answering on the sandbox's node
    node = app.sandbox.node_address
    app.settings(**{"node-addresses": [node, "127.0.0.1"]})  # a second node with nothing there

    code, report = verify(app)

    assert code == 1
    (http,) = report["gates"]
    assert set(http["attempts"]) == {f"{node}: 200 OK; 127.0.0.1: connection refused"}
    assert f"from 2 nodes on port {app.green} within 1.5 s" in http["summary"]
