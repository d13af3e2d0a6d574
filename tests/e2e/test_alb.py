"""Deploy, rollback, status, repair and preview through an Application Load Balancer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.alb import AlbApp, Observer, make_alb_app

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


@pytest.fixture
def alb(sandbox: Sandbox, tmp_path: Path) -> AlbApp:
    return make_alb_app(sandbox, tmp_path)


def deploy(alb: AlbApp, commit: str, *extra: str) -> None:
    result = alb.app.bluegreen("deploy", "--commit", commit, *extra)
    assert result.returncode == 0, result.stderr


def test_deploy_moves_both_listeners_in_place_keeping_certificate_and_policy(
    alb: AlbApp,
) -> None:
    before = alb.listeners()

    with Observer(alb) as observer:
        deploy(alb, V1)

    after = alb.listeners()
    assert alb.colors() == {"green"}
    assert {p: after[p]["ListenerArn"] for p in after} == {
        p: before[p]["ListenerArn"] for p in before
    }  # modified in place, never re-created
    assert after[443]["Certificates"] == before[443]["Certificates"]
    assert after[443]["SslPolicy"] == "ELBSecurityPolicy-TLS-1-2-2017-01"
    assert after[443]["Protocol"] == "HTTPS"
    assert observer.gaps == []
    assert observer.green_shares() == [0, 100]
    assert alb.tags()["green-commit"] == V1
    assert "bluegreen-switch" not in alb.tags()


def test_listener_rules_on_a_color_move_with_the_default_action_and_others_stay(
    alb: AlbApp,
) -> None:
    alb.add_rule(80, "/api/*", alb.arns["blue"], priority=10)
    alb.add_rule(443, "/api/*", alb.arns["blue"], priority=10)
    other = alb.foreign_group(f"tg-other-{alb.app.name}"[:32])
    alb.add_rule(80, "/legacy/*", other, priority=20)

    deploy(alb, V1)

    for port in (80, 443):
        moved = [r for r in alb.rules(port) if r["Priority"] == "10"]
        assert [alb.weights(r["Actions"]) for r in moved] == [{"blue": 0, "green": 100}]
    [legacy] = [r for r in alb.rules(80) if r["Priority"] == "20"]
    assert legacy["Actions"][0]["TargetGroupArn"] == other
    assert legacy["Conditions"][0]["Values"] == ["/legacy/*"]


@pytest.mark.slow
def test_status_rollback_and_redeploy_through_the_alb(alb: AlbApp) -> None:
    deploy(alb, V1)
    deploy(alb, V2)
    assert alb.colors() == {"blue"}

    report = alb.app.status()
    assert report["active"] == {"color": "blue", "port": alb.app.blue, "commit": V2}
    assert report["idle"] == {"color": "green", "port": alb.app.green, "commit": V1}
    assert "weights" not in report

    with Observer(alb) as observer:
        result = alb.app.bluegreen("rollback")

    assert result.returncode == 0, result.stderr
    assert alb.colors() == {"green"}
    assert observer.gaps == []
    assert alb.app.status()["active"]["commit"] == V1


def test_rollback_is_refused_when_the_idle_target_group_is_not_healthy(alb: AlbApp) -> None:
    deploy(alb, V1)
    alb.stop(alb.sick_node("blue"))

    refused = alb.app.bluegreen("rollback")
    forced = alb.app.bluegreen("rollback", "--force")

    assert refused.returncode == 1
    assert "refusing to roll back to blue" in refused.stderr
    assert "Target.InvalidState" in refused.stderr
    assert forced.returncode == 0, forced.stderr
    assert alb.colors() == {"blue"}


def test_a_new_color_that_is_not_healthy_gets_no_traffic(alb: AlbApp) -> None:
    alb.app.settings(**{"ready-timeout": 2})
    alb.stop(alb.sick_node("green"))

    result = alb.app.bluegreen("deploy", "--commit", V1, "--steps", "10,100")

    assert result.returncode == 1
    assert "2/3 targets healthy" in result.stderr
    assert alb.colors() == {"blue"}
    assert "bluegreen-switch" not in alb.tags()
    assert "bluegreen-switch" not in alb.tags()


def test_repair_points_disagreeing_listeners_at_one_color(alb: AlbApp) -> None:
    deploy(alb, V1)
    alb.forward(80, alb.arns["blue"])

    refused = alb.app.bluegreen("status")
    repaired = alb.app.bluegreen("repair", "--color", "green")

    assert refused.returncode == 4
    assert "listeners disagree" in refused.stderr
    assert "listener 80 on blue" in refused.stderr and "listener 443 on green" in refused.stderr
    assert repaired.returncode == 0, repaired.stderr
    assert alb.colors() == {"green"}
    assert alb.app.status()["active"]["color"] == "green"


def test_repair_without_a_color_picks_the_ready_one(alb: AlbApp) -> None:
    deploy(alb, V1)
    alb.forward(443, alb.arns["blue"])

    repaired = alb.app.bluegreen("repair")

    assert repaired.returncode == 0, repaired.stderr
    assert alb.colors() == {"green"}  # only green has pods


def test_preview_points_the_classic_preview_elb_at_the_idle_nodeport(alb: AlbApp) -> None:
    from bluegreen_hooks.sandbox.scenario import create_load_balancer

    preview = f"pv-{alb.app.name}"[:32]
    create_load_balancer(preview, forward_to=30000, tagged=False)
    alb.app.settings(**{"preview-elb-name": preview})
    deploy(alb, V1)

    result = alb.app.bluegreen("preview")

    assert result.returncode == 0, result.stderr
    found = alb.app.elb.describe_load_balancers(LoadBalancerNames=[preview])
    ports = {
        d["Listener"]["InstancePort"]
        for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
    }
    assert ports == {alb.app.blue}
    assert alb.colors() == {"green"}
    report = json.loads(alb.app.bluegreen("status", "--output", "json").stdout)
    assert report["preview"]["color"] == "blue"


def test_the_codedeploy_hooks_switch_and_validate_through_the_alb(alb: AlbApp) -> None:
    from tests.e2e.test_hooks import EVENTS, run_hook, unpack_bundle

    bundle = unpack_bundle(alb.app, "d-ALB0001")
    for event in EVENTS:
        result = run_hook(alb.app, bundle, "d-ALB0001", event)
        assert result.returncode == 0, f"{event}: {result.stderr}"

    assert alb.colors() == {"green"}
    assert alb.app.status()["active"]["commit"] == "3333333cccccccc"


def test_validate_service_fails_when_the_live_target_group_turns_unhealthy(alb: AlbApp) -> None:
    from tests.e2e.test_hooks import run_hook, unpack_bundle

    deploy(alb, V1)  # green runs V1; the hooks release to blue
    bundle = unpack_bundle(alb.app, "d-ALB0002")
    for event in ("BeforeInstall", "ApplicationStart"):
        assert run_hook(alb.app, bundle, "d-ALB0002", event).returncode == 0
    assert alb.colors() == {"blue"}
    alb.stop(alb.sick_node("blue"))

    result = run_hook(alb.app, bundle, "d-ALB0002", "ValidateService")

    assert result.returncode == 1
    assert "blue is live but not healthy" in result.stderr
    assert "2/3 targets healthy" in result.stderr
    assert alb.colors() == {"green"}  # back on the old color, healthy and Ready
    assert alb.app.status()["active"]["commit"] == V1


def test_validate_leaves_traffic_when_the_old_color_is_not_healthy_either(alb: AlbApp) -> None:
    from tests.e2e.test_hooks import run_hook, unpack_bundle

    deploy(alb, V1)
    bundle = unpack_bundle(alb.app, "d-ALB0003")
    for event in ("BeforeInstall", "ApplicationStart"):
        assert run_hook(alb.app, bundle, "d-ALB0003", event).returncode == 0
    alb.stop(alb.sick_node("blue"))
    alb.stop(alb.sick_node("green"))

    result = run_hook(alb.app, bundle, "d-ALB0003", "ValidateService")

    assert result.returncode == 1
    assert alb.colors() == {"blue"}  # nowhere better to go


def test_render_takes_the_idle_colors_nodeport_from_its_target_group(alb: AlbApp) -> None:
    green = alb.elbv2.describe_target_groups(TargetGroupArns=[alb.arns["green"]])

    result = alb.app.bluegreen("render", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert green["TargetGroups"][0]["Port"] == alb.app.green
    assert f"nodePort: {alb.app.green}" in result.stdout
    assert alb.colors() == {"blue"}
