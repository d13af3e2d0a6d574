"""How gates fail, and how they do not: a gate whose API refuses it fails (and after the
switch rolls back), throttling is retried, a release that needs a moment still passes within
the timeout, and SIGTERM during a command gate leaves nothing running and traffic untouched."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.kubeapi.nodeports import HttpAnswer
from tests.e2e import runs
from tests.e2e.test_gate_hooks import answering
from tests.e2e.test_gates import V1, V2, deploy, deployed, failure, put_alarm, use_gates
from tests.e2e.world import App


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, with every fault cleared again after the test."""
    yield sandbox
    sandbox.aws.faults.clear()
    sandbox.kube.faults.clear()


def test_an_alarms_gate_refused_by_aws_fails_and_the_release_is_rolled_back(
    faults: Sandbox, app: App
) -> None:
    alarm = f"{app.name}-5xx"
    put_alarm(alarm)
    use_gates(app)
    deployed(app, V1)
    use_gates(app, after=[{"alarms": {"names": [alarm], "watch": 30, "interval": 0.1}}])
    faults.aws.faults.refuse("DescribeAlarms")

    result = deploy(app, V2)

    assert result.returncode == 1
    assert app.instance_ports() == {app.green}
    message = failure(result)
    assert (
        f"after-switch gate alarms {alarm} failed on blue (port {app.blue}): could not" in message
    )
    assert "AccessDenied" in message
    assert "rolled back: traffic is back on green" in message


def test_throttled_alarm_reads_are_retried_and_the_gate_passes(faults: Sandbox, app: App) -> None:
    alarm = f"{app.name}-5xx"
    put_alarm(alarm)
    use_gates(app, after=[{"alarms": {"names": [alarm], "watch": 1, "interval": 0.1}}])
    injected = sum(faults.aws.faults.injected.values())
    faults.aws.faults.transient(0.5, seed=3, only=["DescribeAlarms"])

    result = deploy(app, V1)

    assert result.returncode == 0, result.stderr
    assert app.instance_ports() == {app.green}
    assert sum(faults.aws.faults.injected.values()) > injected


def test_kubernetes_refusing_the_endpoint_slices_stops_the_release_before_the_switch(
    faults: Sandbox, app: App
) -> None:
    use_gates(app)
    faults.kube.faults.refuse("GET", "/endpointslices")

    result = deploy(app, V1)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}
    message = failure(result)
    assert "before-switch gate structure failed on green" in message
    assert "could not check: Kubernetes refused GET /apis/discovery.k8s.io/v1/" in message
    assert "Forbidden" in message and "grant what docs/rbac.yaml lists" in message


def test_a_release_that_answers_after_a_while_passes_within_the_timeout(app: App) -> None:
    use_gates(app, before=[{"http": {"successes": 3, "timeout": 60, "interval": 0.1}}])
    with answering(app, V1, HttpAnswer(status=503)):
        run = runs.start(app, "deploy", "--commit", V1)
        run.wait_for("503 Service Unavailable")
        assert app.instance_ports() == {app.blue}
    code, stderr = run.finish()

    assert code == 0, stderr
    assert app.instance_ports() == {app.green}
    passed = [line for line in stderr.splitlines() if '"gate passed"' in line and "http" in line]
    assert passed and "3 consecutive 2xx" in passed[0]


def test_sigterm_during_a_command_gate_stops_it_and_its_children_with_traffic_untouched(
    app: App,
) -> None:
    marker = app.folder / "gate-finished"
    use_gates(app, before=[{"command": f"sleep 30 && touch {marker}"}])
    before = app.listeners()

    run = runs.start(app, "deploy", "--commit", V1)
    run.wait_for("gate command started")
    run.proc.send_signal(signal.SIGTERM)
    code, stderr = run.finish()

    assert code == 143
    assert app.listeners() == before
    assert "traffic untouched on blue" in stderr
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(marker) not in ps.stdout
