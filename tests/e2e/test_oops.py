"""`oops status`, `oops rollback` and `oops preview` against the sandbox, read back for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.releases import oops, preview_of, publishable
from tests.e2e.world import App, make_app

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


@pytest.fixture
def fresh(sandbox: Sandbox, tmp_path: Path) -> App:
    """Nothing deployed yet: blue is live (with no commit), green idle."""
    return publishable(make_app(sandbox, tmp_path))


@pytest.fixture
def app(fresh: App) -> App:
    """V1 deployed to green, then V2 to blue: both colors Ready, blue live."""
    for commit in (V1, V2):
        result = fresh.bluegreen("deploy", "--commit", commit)
        assert result.returncode == 0, result.stderr
    return fresh


def preview_listeners(app: App) -> dict[int, dict[str, Any]]:
    elb: Any = boto3.client("elb")
    found = elb.describe_load_balancers(LoadBalancerNames=[preview_of(app)])
    return {
        d["Listener"]["LoadBalancerPort"]: {**d["Listener"], "PolicyNames": d["PolicyNames"]}
        for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
    }


def preview_health(app: App) -> str:
    elb: Any = boto3.client("elb")
    found = elb.describe_load_balancers(LoadBalancerNames=[preview_of(app)])
    return str(found["LoadBalancerDescriptions"][0]["HealthCheck"]["Target"])


def oops_status(app: App, *argv: str) -> dict[str, Any]:
    result = oops(app, *argv)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_oops_status_and_rollback_current_print_the_seeds_shape(app: App) -> None:
    expected = {
        "application": app.name,
        "active": {"color": "blue", "port": app.blue, "commit": V2},
        "off": {"color": "green", "port": app.green, "commit": V1},
    }

    status = oops_status(app, "status")
    current = oops_status(app, "rollback", "--current")

    assert status == current
    assert {k: v for k, v in status.items() if k != "preview"} == expected
    assert status["preview"]["elb"] == preview_of(app)


def test_oops_rollback_twice_returns_traffic_to_where_it_started(app: App) -> None:
    start = app.listeners()

    first = oops(app, "rollback")
    assert first.returncode == 0, first.stderr
    assert app.instance_ports() == {app.green}
    assert oops_status(app, "status")["active"]["commit"] == V1

    second = oops(app, "rollback")
    assert second.returncode == 0, second.stderr

    assert app.listeners() == start
    assert app.health_target() == f"HTTP:{app.blue}/healthcheck"
    assert oops_status(app, "status")["active"] == {
        "color": "blue",
        "port": app.blue,
        "commit": V2,
    }


def test_oops_preview_points_every_preview_listener_at_the_idle_color(app: App) -> None:
    elb: Any = boto3.client("elb")
    elb.create_load_balancer_policy(
        LoadBalancerName=preview_of(app),
        PolicyName="tls",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": "Protocol-TLSv1.2", "AttributeValue": "true"}],
    )
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=preview_of(app), LoadBalancerPort=443, PolicyNames=["tls"]
    )
    before = preview_listeners(app)
    main_before = app.listeners()

    result = oops(app, "preview")

    assert result.returncode == 0, result.stderr
    after = preview_listeners(app)
    assert {listener["InstancePort"] for listener in after.values()} == {app.green}
    for port, listener in after.items():
        assert listener["Protocol"] == before[port]["Protocol"]
        assert listener.get("SSLCertificateId") == before[port].get("SSLCertificateId")
        assert listener["PolicyNames"] == before[port]["PolicyNames"]
    assert after[443]["SSLCertificateId"] == app.certificate
    assert after[443]["PolicyNames"] == ["tls"]
    assert preview_health(app) == f"HTTP:{app.green}/healthcheck"
    assert app.listeners() == main_before
    assert f"-> green (port {app.green}), commit {V1}" in result.stdout
    assert oops_status(app, "status")["preview"] == {
        "elb": preview_of(app),
        "dns_name": result.stdout.split(" at ", 1)[1].split(" ", 1)[0],
        "color": "green",
        "port": app.green,
        "commit": V1,
    }


def test_oops_off_is_preview_and_a_second_run_changes_nothing(app: App) -> None:
    assert oops(app, "off").returncode == 0
    before = preview_listeners(app)

    again = oops(app, "off")

    assert again.returncode == 0, again.stderr
    assert "already" in again.stderr
    assert preview_listeners(app) == before


def test_preview_follows_the_idle_color_after_a_rollback(app: App) -> None:
    assert oops(app, "preview").returncode == 0
    assert oops(app, "rollback").returncode == 0

    assert oops(app, "preview").returncode == 0

    ports = {listener["InstancePort"] for listener in preview_listeners(app).values()}
    assert ports == {app.blue}
    assert oops_status(app, "status")["preview"]["color"] == "blue"


def test_preview_without_a_preview_elb_in_the_config_exits_2(fresh: App) -> None:
    app = fresh
    data = json.loads(app.config.read_text())
    del data["preview-elb-name"]
    app.config.write_text(json.dumps(data))

    result = oops(app, "preview")

    assert result.returncode == 2
    assert "'preview-elb-name'" in result.stderr


def test_preview_of_a_missing_load_balancer_exits_2_and_status_still_answers(fresh: App) -> None:
    app = fresh
    app.settings(**{"preview-elb-name": f"nope-{app.name}"})

    result = oops(app, "preview")
    status = oops_status(app, "status")

    assert result.returncode == 2
    assert f"load balancer 'nope-{app.name}' not found" in result.stderr
    assert status["active"] == {"color": "blue", "port": app.blue, "commit": None}
    assert status["preview"]["color"] is None and "not found" in status["preview"]["error"]


def test_status_text_shows_the_preview(fresh: App) -> None:
    app = fresh
    assert oops(app, "preview").returncode == 0

    result = app.bluegreen("status")

    assert result.returncode == 0, result.stderr
    assert f"preview green  port {app.green}  (load balancer {preview_of(app)})" in result.stdout


def test_preview_refuses_an_inconsistent_main_load_balancer_and_touches_nothing(
    fresh: App,
) -> None:
    app = fresh
    app.point_http_listener(app.green)  # 80 on green, 443 still on blue
    before = preview_listeners(app)

    result = oops(app, "preview")

    assert result.returncode == 4
    assert "listeners disagree" in result.stderr
    assert preview_listeners(app) == before


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["bundle", "--commit", V1, "--upload"], 0),
        (["releases"], 0),
        (["preview"], 0),
        (["redeploy", "9999999"], 2),  # lists the bucket, then refuses: no release
        (["status", "--output", "oops"], 0),
    ],
)
def test_release_commands_do_not_import_the_kubernetes_client(
    fresh: App, command: list[str], code: int
) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bluegreen_hooks", *command],
        capture_output=True,
        text=True,
        cwd=fresh.folder,
        timeout=60,
    )

    assert result.returncode == code, result.stderr
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "boto3" in imported
    assert not [name for name in imported if name.startswith("kubernetes")]
