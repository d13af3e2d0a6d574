"""Inconsistent ALB states (exit 4) and a config that names the wrong kind (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.alb import AlbApp, make_alb_app

V1 = "1111111aaaaaaaa"


@pytest.fixture
def alb(sandbox: Sandbox, tmp_path: Path) -> AlbApp:
    return make_alb_app(sandbox, tmp_path)


def refused(alb: AlbApp, code: int, *argv: str) -> str:
    """Run the command; it exits with `code`, one message and no traceback, and moves nothing."""
    before = (alb.default_weights(), alb.tags())
    result = alb.app.bluegreen(*argv)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert (alb.default_weights(), alb.tags()) == before
    return result.stderr


def remove_tag(alb: AlbApp, key: str) -> None:
    alb.elbv2.remove_tags(ResourceArns=[alb.arns["balancer"]], TagKeys=[key])


@pytest.mark.parametrize("command", [["status"], ["deploy", "--commit", V1], ["rollback"]])
def test_a_missing_color_tag_is_refused_with_the_command_that_adds_it(
    alb: AlbApp, command: list[str]
) -> None:
    remove_tag(alb, "green")

    stderr = refused(alb, 4, *command)

    assert "has no 'green' tag" in stderr
    assert "aws elbv2 add-tags" in stderr


def test_both_tags_naming_one_target_group_is_refused(alb: AlbApp) -> None:
    alb.tag(green=alb.tags()["blue"])

    stderr = refused(alb, 4, "status")

    assert "both name target group" in stderr


def test_a_tag_naming_no_target_group_is_refused_with_how_to_create_it(alb: AlbApp) -> None:
    alb.tag(green="no-such-group")

    stderr = refused(alb, 4, "deploy", "--commit", V1)

    assert "'no-such-group', which does not exist" in stderr
    assert "aws elbv2 create-target-group" in stderr


def test_a_listener_forwarding_to_neither_color_is_refused(alb: AlbApp) -> None:
    alb.forward(443, alb.foreign_group(f"tg-x-{alb.app.name}"[:32]))

    stderr = refused(alb, 4, "rollback", "--force")

    assert "listener 443 forwards to neither color's target group" in stderr
    assert "bluegreen repair --color" in stderr


def test_traffic_split_with_no_shift_recorded_is_refused(alb: AlbApp) -> None:
    split = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": alb.arns["blue"], "Weight": 50},
                    {"TargetGroupArn": alb.arns["green"], "Weight": 50},
                ]
            },
        }
    ]
    for listener in alb.listeners().values():
        alb.elbv2.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=split)

    stderr = refused(alb, 4, "status")

    assert "traffic is split" in stderr and "no shift is recorded" in stderr
    repaired = alb.app.bluegreen("repair", "--color", "blue")
    assert repaired.returncode == 0, repaired.stderr
    assert alb.colors() == {"blue"}


def test_an_application_config_naming_a_classic_elb_says_what_it_is(alb: AlbApp) -> None:
    alb.app.settings(**{"elb-name": alb.app.elb_name})

    stderr = refused(alb, 2, "status")

    assert "is not an Application Load Balancer: it is a Classic ELB" in stderr
    assert 'set \\"load-balancer-type\\": \\"classic\\"' in stderr  # JSON log line


def test_a_classic_config_naming_an_alb_says_what_it_is(alb: AlbApp) -> None:
    alb.app.settings(**{"load-balancer-type": "classic"})

    stderr = refused(alb, 2, "status")

    assert "is not a Classic ELB: it is an Application Load Balancer" in stderr
    assert 'set \\"load-balancer-type\\": \\"application\\"' in stderr


def test_a_network_config_naming_an_alb_says_what_it_is(alb: AlbApp) -> None:
    alb.app.settings(**{"load-balancer-type": "network"})

    stderr = refused(alb, 2, "deploy", "--commit", V1)

    assert "is not a Network Load Balancer: it is an Application Load Balancer" in stderr


def test_a_name_no_load_balancer_has_is_refused(alb: AlbApp) -> None:
    alb.app.settings(**{"elb-name": "nobody-has-this"})

    stderr = refused(alb, 2, "status")

    assert "load balancer 'nobody-has-this' not found" in stderr
    assert "the config says an Application Load Balancer" in stderr


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("10,5,100", "must rise and end at 100"),
        ("10,50", "must rise and end at 100"),
        ("0,100", "percentages from 1 to 100"),
        ("ten", "percentages from 1 to 100"),
    ],
)
def test_bad_steps_are_refused_before_anything(alb: AlbApp, steps: str, message: str) -> None:
    stderr = refused(alb, 2, "deploy", "--commit", V1, "--steps", steps)

    assert message in stderr


def test_an_unknown_load_balancer_type_is_refused(alb: AlbApp) -> None:
    alb.app.settings(**{"load-balancer-type": "gateway"})

    stderr = refused(alb, 2, "status")

    assert "key 'load-balancer-type': expected classic or application or network" in stderr


def test_a_classic_elb_refuses_steps_touching_nothing(alb: AlbApp) -> None:
    alb.app.settings(**{"elb-name": alb.app.elb_name, "load-balancer-type": "classic"})
    before = alb.app.snapshot()

    result = alb.app.bluegreen("deploy", "--commit", V1, "--steps", "10,100")

    assert result.returncode == 2
    assert "of type classic cannot split traffic" in result.stderr
    assert alb.app.snapshot() == before


def test_the_seed_config_still_means_a_classic_elb(alb: AlbApp) -> None:
    alb.app.settings(**{"elb-name": alb.app.elb_name})
    config = alb.app.config.read_text().replace(', "load-balancer-type": "application"', "")
    alb.app.config.write_text(config)
    assert "load-balancer-type" not in config

    result = alb.app.bluegreen("status")

    assert result.returncode == 0, result.stderr
    assert "load balancer " + alb.app.elb_name in result.stdout


def test_a_network_load_balancer_switches_atomically_and_refuses_steps(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    nlb = make_alb_app(sandbox, tmp_path, kind="network")

    steps = refused(nlb, 2, "deploy", "--commit", V1, "--steps", "10,100")
    result = nlb.app.bluegreen("deploy", "--commit", V1)

    assert "of type network cannot split traffic" in steps
    assert result.returncode == 0, result.stderr
    assert nlb.colors() == {"green"}
    assert nlb.listeners()[443]["Protocol"] == "TLS"
    assert nlb.listeners()[443]["Certificates"][0]["CertificateArn"] == nlb.app.certificate
    assert nlb.app.status()["active"]["color"] == "green"


def test_two_target_groups_on_one_port_are_refused(alb: AlbApp) -> None:
    group = alb.elbv2.create_target_group(
        Name=f"same-port-{alb.app.name}"[:32],
        Protocol="HTTP",
        Port=alb.app.blue,
        VpcId=alb.arns["vpc"],
        TargetType="instance",
    )["TargetGroups"][0]
    alb.tag(green=group["TargetGroupName"])

    stderr = refused(alb, 4, "status")

    assert f"are both on port {alb.app.blue}" in stderr


@pytest.mark.parametrize("pause", ["-1", "nan", "3601", "soon"])
def test_a_bad_pause_is_refused_before_anything(alb: AlbApp, pause: str) -> None:
    stderr = refused(alb, 2, "deploy", "--commit", V1, "--steps", "50,100", "--pause", pause)

    assert "expected seconds from 0 to 3600" in stderr
