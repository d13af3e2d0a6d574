"""Gates in the CodeDeploy flow, through the hook shims: BeforeInstall stays side-effect free,
ApplicationStart gates before it switches (and can be rerun once the release answers), and
ValidateService runs the after-switch gates, rolling back when one fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from bluegreen_hooks.sandbox.kubeapi.nodeports import HttpAnswer
from tests.e2e.test_gates import QUICK_HTTP, V1, deployed, use_gates
from tests.e2e.test_hooks import COMMIT, run_hook, unpack_bundle
from tests.e2e.world import App


@contextmanager
def answering(app: App, image_part: str, answer: HttpAnswer) -> Iterator[None]:
    """Pods whose image contains `image_part` answer this way until the block ends."""
    answers = app.sandbox.kube.node_ports
    assert answers is not None
    answers.answers[image_part] = answer
    try:
        yield
    finally:
        answers.answers.pop(image_part, None)


@pytest.mark.slow
def test_application_start_gates_before_switching_and_a_rerun_switches_once_it_answers(
    app: App,
) -> None:
    use_gates(app)
    deployed(app, V1)  # green live
    bundle = unpack_bundle(app, "d-GATED")
    before_install = run_hook(app, bundle, "d-GATED", "BeforeInstall")
    assert before_install.returncode == 0, before_install.stderr

    with answering(app, COMMIT, HttpAnswer(status=503)):
        failed = run_hook(app, bundle, "d-GATED", "ApplicationStart")
        assert app.instance_ports() == {app.green}
    rerun = run_hook(app, bundle, "d-GATED", "ApplicationStart")

    assert failed.returncode == 1
    assert "before-switch gate http /healthcheck failed on blue" in failed.stderr
    assert "503 Service Unavailable x" in failed.stderr
    assert rerun.returncode == 0, rerun.stderr
    assert app.instance_ports() == {app.blue}
    assert app.status()["active"]["commit"] == COMMIT


def registered_instance(app: App) -> tuple[Any, str]:
    """An EC2 instance behind the app's load balancer (InService while it runs)."""
    ec2 = boto3.client("ec2")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    app.elb.register_instances_with_load_balancer(
        LoadBalancerName=app.elb_name, Instances=[{"InstanceId": instance["InstanceId"]}]
    )
    return ec2, instance["InstanceId"]


@pytest.mark.slow
def test_validate_service_rolls_back_when_the_load_balancer_finds_an_instance_out_of_service(
    app: App,
) -> None:
    ec2, instance = registered_instance(app)
    use_gates(app, after=[{"elb-health": {"timeout": 1, "interval": 0.1}}])
    deployed(app, V1)  # green live; the elb-health gate passed with the instance running
    bundle = unpack_bundle(app, "d-ELBHEALTH")
    for event in ("BeforeInstall", "ApplicationStart"):
        result = run_hook(app, bundle, "d-ELBHEALTH", event)
        assert result.returncode == 0, f"{event}: {result.stderr}"
    assert app.instance_ports() == {app.blue}
    ec2.stop_instances(InstanceIds=[instance])

    validate = run_hook(app, bundle, "d-ELBHEALTH", "ValidateService")

    assert validate.returncode == 1
    assert app.instance_ports() == {app.green}
    assert "after-switch gate elb-health failed on blue" in validate.stderr
    assert f"0/1 InService ({instance} OutOfService)" in validate.stderr
    assert "rolled back: traffic is back on green" in validate.stderr
    listeners = app.listeners()

    rerun = run_hook(app, bundle, "d-ELBHEALTH", "ValidateService")

    assert rerun.returncode == 1  # still a failed deployment, and traffic stays where it is
    assert "traffic is on green, but the plan put it on blue" in rerun.stderr
    assert app.listeners() == listeners


def test_validate_service_passes_when_every_instance_is_in_service(app: App) -> None:
    registered_instance(app)
    use_gates(app, before=[QUICK_HTTP], after=[{"elb-health": {"timeout": 5, "interval": 0.1}}])
    bundle = unpack_bundle(app, "d-INSERVICE")

    for event in ("BeforeInstall", "ApplicationStart", "ValidateService"):
        result = run_hook(app, bundle, "d-INSERVICE", event)
        assert result.returncode == 0, f"{event}: {result.stderr}"

    assert app.instance_ports() == {app.green}
