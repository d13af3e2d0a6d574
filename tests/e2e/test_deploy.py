"""`bluegreen deploy`, `status`, `rollback` and `render` against the sandbox, read back for real."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.world import App, live_lock

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"
BROKEN = "broken0dddddddd"


def deploy(app: App, commit: str) -> None:
    result = app.bluegreen("deploy", "--commit", commit)
    assert result.returncode == 0, result.stderr


def test_first_deploy_moves_every_listener_to_green_keeping_protocol_and_certificate(
    app: App,
) -> None:
    before = app.listeners()

    deploy(app, V1)

    after = app.listeners()
    assert set(after) == {80, 443}
    for port, listener in after.items():
        assert listener["InstancePort"] == app.green
        assert listener["Protocol"] == before[port]["Protocol"]
        assert listener["InstanceProtocol"] == before[port]["InstanceProtocol"]
    assert after[443]["SSLCertificateId"] == app.certificate
    assert app.health_target() == f"HTTP:{app.green}/healthcheck"


def test_first_deploy_runs_ready_pods_labelled_with_color_and_commit(app: App) -> None:
    deploy(app, V1)

    pods = app.pods("green")
    assert len(pods) == 2
    for pod in pods:
        assert pod.metadata.labels["bluegreen.io/commit"] == V1
        assert pod.spec.containers[0].image.endswith(f":{V1}")
        assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
    green = app.core.read_namespaced_service(f"{app.name}-green", "default")
    assert green.spec.ports[0].node_port == app.green


def test_status_reports_active_color_port_and_commit(app: App) -> None:
    deploy(app, V1)

    assert app.status() == {
        "application": app.name,
        "active": {"color": "green", "port": app.green, "commit": V1},
        "idle": {"color": "blue", "port": app.blue, "commit": None},
    }


@pytest.mark.slow
def test_second_deploy_flips_back_to_blue_and_keeps_green_for_rollback(app: App) -> None:
    deploy(app, V1)
    deploy(app, V2)

    assert app.instance_ports() == {app.blue}
    assert app.status()["active"] == {"color": "blue", "port": app.blue, "commit": V2}
    assert app.status()["idle"]["commit"] == V1
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V1}


@pytest.mark.slow
def test_rollback_returns_traffic_to_the_previous_release(app: App) -> None:
    deploy(app, V1)
    deploy(app, V2)

    result = app.bluegreen("rollback")

    assert result.returncode == 0, result.stderr
    assert app.instance_ports() == {app.green}
    assert app.listeners()[443]["SSLCertificateId"] == app.certificate
    assert app.health_target() == f"HTTP:{app.green}/healthcheck"
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": V1}


def test_rollback_is_refused_when_the_idle_color_is_not_ready(app: App) -> None:
    deploy(app, V1)
    before = app.snapshot()

    result = app.bluegreen("rollback")

    assert result.returncode == 1
    assert "refusing to roll back to blue" in result.stderr
    assert app.snapshot() == before


def test_forced_rollback_switches_even_when_not_ready(app: App) -> None:
    deploy(app, V1)

    result = app.bluegreen("rollback", "--force")

    assert result.returncode == 0, result.stderr
    assert app.instance_ports() == {app.blue}


@pytest.mark.slow
def test_release_that_never_becomes_ready_leaves_traffic_untouched(app: App) -> None:
    deploy(app, V1)
    app.settings(**{"ready-timeout": 1.5})
    before_listeners, before_health = app.listeners(), app.health_target()

    result = app.bluegreen("deploy", "--commit", BROKEN)

    assert result.returncode == 1
    assert "0/2 replicas Ready" in result.stderr
    assert "traffic was not touched" in result.stderr
    assert app.listeners() == before_listeners
    assert app.health_target() == before_health
    assert app.status()["active"]["commit"] == V1


def test_deploying_the_live_commit_again_changes_nothing(app: App) -> None:
    deploy(app, V1)
    before = app.snapshot()

    deploy(app, V1)

    assert app.snapshot() == before


def test_every_log_line_of_a_deploy_carries_the_run_context(app: App) -> None:
    result = app.bluegreen("deploy", "--commit", V1, "--deployment-id", "d-LOGS")

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    deploy_lines = [line for line in lines if "step" in line]
    assert deploy_lines, result.stderr
    for line in deploy_lines:
        assert line["application"] == app.name
        assert line["deployment_id"] == "d-LOGS"
        assert (line["old_color"], line["new_color"]) == ("blue", "green")
    assert any(line.get("progress") == "2/2 ready" for line in lines)


def test_render_prints_manifests_and_touches_nothing(app: App) -> None:
    before = app.snapshot()

    result = app.bluegreen("render", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert f"nodePort: {app.green}" in result.stdout
    assert f"image: octoblu/{app.name}:{V1}" in result.stdout
    assert app.snapshot() == before


def test_readiness_reports_each_color_and_the_lock(app: App) -> None:
    deploy(app, V1)

    result = app.bluegreen("readiness", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "blue": {"ready": 0, "desired": 0, "complete": False},
        "green": {"ready": 2, "desired": 2, "complete": True},
        "lock": None,
    }


@pytest.mark.slow
def test_rollback_is_refused_while_a_deploy_holds_the_lock(app: App) -> None:
    deploy(app, V1)
    deploy(app, V2)
    before = app.snapshot()

    with live_lock(app, "d-RUNNING@ci-7"):
        result = app.bluegreen("rollback")

    assert result.returncode == 3, result.stderr
    assert "deploy d-RUNNING on host ci-7 is running" in result.stderr
    assert app.snapshot() == before


@pytest.mark.parametrize("command", [["status"], ["rollback"], ["rollback", "--force"]])
def test_status_and_rollback_do_not_import_the_kubernetes_client(
    app: App, command: list[str]
) -> None:
    deploy(app, V1)
    deploy(app, V2)

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bluegreen_hooks", *command],
        capture_output=True,
        text=True,
        cwd=app.folder,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "bluegreen_hooks.routers.classic" in imported
    assert not [name for name in imported if name.startswith("kubernetes")]


def test_switch_keeps_listener_policies(app: App) -> None:
    app.elb.create_load_balancer_policy(
        LoadBalancerName=app.elb_name,
        PolicyName="tls-1-2",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[
            {
                "AttributeName": "Reference-Security-Policy",
                "AttributeValue": "ELBSecurityPolicy-TLS-1-2-2017-01",
            }
        ],
    )
    app.elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=app.elb_name, LoadBalancerPort=443, PolicyNames=["tls-1-2"]
    )

    deploy(app, V1)

    found = app.elb.describe_load_balancers(LoadBalancerNames=[app.elb_name])
    policies = {
        d["Listener"]["LoadBalancerPort"]: d["PolicyNames"]
        for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
    }
    assert policies == {80: [], 443: ["tls-1-2"]}
    assert app.instance_ports() == {app.green}


def test_health_check_settings_follow_the_config(app: App) -> None:
    app.settings(**{"health-check": {"path": "/ready", "interval": 10, "timeout": 3}})

    deploy(app, V1)

    found = app.elb.describe_load_balancers(LoadBalancerNames=[app.elb_name])
    check = found["LoadBalancerDescriptions"][0]["HealthCheck"]
    assert check == {
        "Target": f"HTTP:{app.green}/ready",
        "Interval": 10,
        "Timeout": 3,
        "UnhealthyThreshold": 2,
        "HealthyThreshold": 2,
    }


@pytest.mark.slow
def test_a_later_release_on_the_same_color_keeps_its_service(app: App) -> None:
    deploy(app, V1)
    service = app.core.read_namespaced_service(f"{app.name}-green", "default")
    deploy(app, V2)

    deploy(app, "3333333cccccccc")

    again = app.core.read_namespaced_service(f"{app.name}-green", "default")
    assert again.metadata.uid == service.metadata.uid
    assert app.status()["active"] == {
        "color": "green",
        "port": app.green,
        "commit": "3333333cccccccc",
    }


@pytest.mark.slow
def test_rollback_is_refused_when_kubernetes_cannot_be_asked(app: App) -> None:
    deploy(app, V1)
    deploy(app, V2)
    unreachable = app.folder / "unreachable-kubeconfig"
    unreachable.write_text(
        app.sandbox.kubeconfig.read_text().replace(app.sandbox.kube.url, "http://127.0.0.1:9")
    )
    before = app.snapshot()

    result = app.bluegreen("rollback", env={"KUBECONFIG": str(unreachable)})

    assert result.returncode == 1, result.stderr
    assert "the readiness check failed" in result.stderr
    assert "Kubernetes API at http://127.0.0.1:9 not reachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.snapshot() == before
