"""Health gates end to end: `bluegreen deploy` against the sandbox, whose NodePorts answer HTTP
for Ready pods (an image marked `unhealthy` answers 500, `slow` answers late). Traffic is read
back through boto3, alarms are set through the CloudWatch API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3

from tests.e2e import runs
from tests.e2e.world import App

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"
UNHEALTHY = "unhealthy3ccccc"  # its pods turn Ready, and answer 500
SLOW = "slow4dddddddddd"  # its pods answer after 5 s
QUICK_HTTP = {"http": {"successes": 2, "timeout": 1.5, "interval": 0.1, "attempt-timeout": 0.5}}


def use_gates(
    app: App,
    *,
    before: list[Any] | None = None,
    after: list[Any] | None = None,
    also: dict[str, Any] | None = None,
) -> None:
    """Write the app's gates (before the switch: a quick http gate unless told), and `also`
    other config keys."""
    gates: dict[str, Any] = {"before-switch": [QUICK_HTTP] if before is None else before}
    if after is not None:
        gates["after-switch"] = after
    app.settings(gates=gates, **(also or {}))


def deploy(app: App, commit: str) -> subprocess.CompletedProcess[str]:
    return app.bluegreen("deploy", "--commit", commit)


def deployed(app: App, commit: str) -> None:
    result = deploy(app, commit)
    assert result.returncode == 0, result.stderr


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """The failure line a deploy ends with (JSON logs: its event and fix)."""
    last = json.loads(result.stderr.strip().splitlines()[-1])
    return f"{last['event']}\nfix: {last.get('fix')}"


def template(app: App, part: str) -> Path:
    return app.folder / ".kubernetes" / "deploy" / f"{app.name}-{part}.yaml.tmpl"


# --- before the switch -------------------------------------------------------------------------


def test_an_unhealthy_release_never_gets_traffic_and_the_deploy_says_what_the_gate_saw(
    app: App,
) -> None:
    use_gates(app)
    deployed(app, V1)  # green live
    before = app.listeners()

    result = deploy(app, UNHEALTHY)

    assert result.returncode == 1
    assert app.listeners() == before  # every listener still on green, certificate and all
    assert app.instance_ports() == {app.green}
    assert app.health_target() == f"HTTP:{app.green}/healthcheck"
    message = failure(result)
    assert "before-switch gate http /healthcheck failed on blue" in message
    assert "500 Internal Server Error x" in message
    assert "no 2 consecutive 2xx" in message and "within 1.5 s" in message
    assert "traffic untouched on green" in message
    assert app.status()["active"]["commit"] == V1


def test_the_default_gate_checks_the_health_check_path_of_a_plain_config(app: App) -> None:
    settings = json.loads(app.config.read_text())
    del settings["gates"]
    app.config.write_text(json.dumps(settings))

    result = deploy(app, V1)

    assert result.returncode == 0, result.stderr
    passed = [
        json.loads(line)
        for line in result.stderr.splitlines()
        if '"gate passed"' in line and "http /healthcheck" in line
    ]
    assert passed and "3 consecutive 2xx" in passed[0]["result"]
    assert app.instance_ports() == {app.green}


def test_a_service_selecting_the_old_releases_pods_is_refused_before_the_switch(
    app: App,
) -> None:
    use_gates(app)
    deployed(app, V1)  # green live
    service = template(app, "service")
    service.write_text(service.read_text().replace("    color: ${COLOR}\n", ""))

    result = deploy(app, V2)  # blue's new Service selects every pod of the app

    assert result.returncode == 1
    assert app.instance_ports() == {app.green}
    message = failure(result)
    assert "before-switch gate structure failed on blue" in message
    assert "routes to 2 pod(s) not of blue's release 2222222bbbbbbbb" in message
    assert f"{app.name}-green-" in message and "(green, commit 1111111)" in message
    # nothing after the structural check ran: the http gate would have been answered by green
    assert '"gate": "http /healthcheck"' not in result.stderr


def test_a_service_whose_target_port_no_container_declares_is_refused(app: App) -> None:
    use_gates(app)
    service = template(app, "service")
    service.write_text(service.read_text().replace("targetPort: 8080", "targetPort: 8081"))

    result = deploy(app, V1)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}
    message = failure(result)
    assert "sends NodePort" in message and "to targetPort 8081" in message
    assert "containerPorts 8080" in message


def test_unreachable_node_addresses_are_reported_as_connection_refused(app: App) -> None:
    # The node answers on its own loopback address; nothing listens on 127.0.0.1's NodePorts.
    use_gates(app, also={"node-addresses": ["127.0.0.1"]})

    result = deploy(app, V1)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}
    message = failure(result)
    assert f"from 127.0.0.1:{app.green} within 1.5 s" in message
    assert "attempts: connection refused x" in message


def test_slow_answers_are_reported_as_no_answer_within_the_attempt_timeout(app: App) -> None:
    use_gates(app)

    result = deploy(app, SLOW)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}
    assert "attempts: no answer within 0.5 s" in failure(result)


def test_a_failing_before_switch_command_gate_shows_its_exit_code_and_last_lines(
    app: App,
) -> None:
    script = app.folder / "smoke-test.sh"
    script.write_text(
        "#!/bin/sh\n"
        'echo "smoke test of $APPLICATION $COMMIT on $NEW_COLOR ($NEW_URL)"\n'
        'echo "GET / -> 404" >&2\n'
        "exit 7\n"
    )
    script.chmod(0o755)
    use_gates(app, before=[QUICK_HTTP, {"command": "./smoke-test.sh"}])

    result = deploy(app, V1)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}
    message = failure(result)
    assert "before-switch gate command ./smoke-test.sh failed on green" in message
    assert "exit 7 after" in message
    url = f"http://{app.sandbox.node_address}:{app.green}"
    assert f"smoke test of {app.name} {V1} on green ({url})" in message
    assert "GET / -> 404" in message
    # its output went into the log as it came, line by line
    assert '"event": "gate output"' in result.stderr


def test_a_command_gate_past_its_timeout_is_killed_with_its_children(app: App) -> None:
    marker = app.folder / "still-running"
    use_gates(
        app,
        before=[
            QUICK_HTTP,
            {
                "command": {
                    "run": f"echo started; (sleep 30; touch {marker}) & sleep 30",
                    "timeout": 1,
                }
            },
        ],
    )

    result = deploy(app, V1)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}
    message = failure(result)
    assert "killed after 1 s without finishing" in message and "started" in message
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(marker) not in ps.stdout  # the background child went with the group


# --- after the switch ----------------------------------------------------------------------------


def failing_command(app: App) -> dict[str, Any]:
    script = app.folder / "after-check.sh"
    script.write_text(
        "#!/bin/sh\n"
        'echo "checking $NEW_COLOR on port $NEW_PORT via $NODE_ADDRESSES for $COMMIT"\n'
        "echo 'p99 latency 2400 ms > 500 ms'\n"
        "exit 3\n"
    )
    script.chmod(0o755)
    return {"command": "./after-check.sh"}


def test_a_release_failing_an_after_switch_command_gate_is_rolled_back(app: App) -> None:
    use_gates(app)
    deployed(app, V1)  # green live, Ready
    use_gates(app, after=[failing_command(app)])

    result = deploy(app, V2)

    assert result.returncode == 1
    assert app.instance_ports() == {app.green}  # traffic back on the previous color
    assert app.health_target() == f"HTTP:{app.green}/healthcheck"
    assert app.listeners()[443]["SSLCertificateId"] == app.certificate
    message = failure(result)
    assert "after-switch gate command ./after-check.sh failed on blue" in message
    assert "exit 3" in message and "p99 latency 2400 ms > 500 ms" in message
    node = app.sandbox.node_address
    assert f"checking blue on port {app.blue} via {node} for {V2}" in message
    assert f"rolled back: traffic is back on green (port {app.green}, commit {V1})" in message
    status = app.status()
    assert status["active"]["commit"] == V1 and status["idle"]["commit"] == V2


def test_with_auto_rollback_off_traffic_stays_and_the_fix_says_how_to_roll_back(
    app: App,
) -> None:
    use_gates(app)
    deployed(app, V1)
    use_gates(app, after=[failing_command(app)], also={"auto-rollback": False})

    result = deploy(app, V2)

    assert result.returncode == 1
    assert app.instance_ports() == {app.blue}  # the new release keeps the traffic
    message = failure(result)
    assert "traffic stays on blue (auto-rollback is off)" in message
    assert (
        f"fix: roll back with `bluegreen rollback` (traffic back to green (port {app.green},"
        in message
    )


def test_no_rollback_to_a_previous_color_that_is_not_ready(app: App) -> None:
    use_gates(app, after=[failing_command(app)])

    result = deploy(app, V1)  # the first release: blue never had pods

    assert result.returncode == 1
    assert app.instance_ports() == {app.green}
    message = failure(result)
    assert "not rolled back: blue has only 0/0 replicas Ready, so traffic stays on green" in message
    assert "bluegreen rollback --force" in message


def put_alarm(name: str) -> Any:
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Backend_5XX",
        Namespace="AWS/ELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    return cloudwatch


def test_an_alarm_going_off_while_the_gate_watches_rolls_the_release_back(app: App) -> None:
    alarm = f"{app.name}-5xx"
    cloudwatch = put_alarm(alarm)
    use_gates(app)
    deployed(app, V1)
    use_gates(app, after=[{"alarms": {"names": [alarm], "watch": 60, "interval": 0.1}}])

    run = runs.start(app, "deploy", "--commit", V2)
    run.wait_for(f'"gate": "alarms {alarm}"')  # the gate watches: traffic is on blue now
    assert app.instance_ports() == {app.blue}
    cloudwatch.set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="5xx above 10 for 1 minute"
    )
    code, stderr = run.finish()

    assert code == 1
    assert app.instance_ports() == {app.green}
    last = json.loads(stderr.strip().splitlines()[-1])["event"]
    assert f"after-switch gate alarms {alarm} failed on blue" in last
    assert f"{alarm} in ALARM (5xx above 10 for 1 minute)" in last
    assert "rolled back: traffic is back on green" in last


def test_alarms_that_stay_quiet_let_the_release_through(app: App) -> None:
    alarm = f"{app.name}-quiet"
    put_alarm(alarm)
    use_gates(app, after=[{"alarms": {"names": [alarm], "watch": 0.5, "interval": 0.1}}])

    result = deploy(app, V1)

    assert result.returncode == 0, result.stderr
    assert app.instance_ports() == {app.green}
    assert "1 alarms out of ALARM for 0.5 s" in result.stderr


def test_a_misspelt_alarm_name_fails_the_gate_instead_of_watching_nothing(app: App) -> None:
    use_gates(app, after=[{"alarms": {"names": [f"{app.name}-no-such-alarm"], "watch": 30}}])

    result = deploy(app, V1)

    assert result.returncode == 1
    assert f"no such alarm: {app.name}-no-such-alarm" in failure(result)
