"""Deploys and the ApplicationStart hook against pods that fail as on a real cluster.

The emulator's kubelet plays each failure mode (image markers in the commit, which the example
templates put in the image tag, or `sandbox.kube.pods` rules); the product must say why per pod,
keep saying where it is while it waits, stop early when no new pod can recover, and never touch
traffic. State is read back through boto3 (listeners) and the kubernetes client (pods).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e import runs
from tests.e2e.releases import agent_running, lifecycle_events, oops, publish, publishable
from tests.e2e.test_hooks import run_hook, unpack_bundle
from tests.e2e.world import App, make_app

V1 = "1111111aaaaaaaa"
FAST = {"progress-every": 0.5, "image-pull-grace": 1}


def json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def error_of(stderr: str) -> str:
    (error,) = [line for line in json_lines(stderr) if line.get("level") == "error"]
    return str(error["event"])


def progress_lines(stderr: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(stderr) if line.get("event") == "waiting for pods"]


def live_on_green(app: App) -> dict[int, dict[str, Any]]:
    """A first release, live on green; the next deploy goes to blue."""
    result = app.bluegreen("deploy", "--commit", V1)
    assert result.returncode == 0, result.stderr
    assert app.instance_ports() == {app.green}
    return app.listeners()


def selector(app: App) -> str:
    return f"bluegreen.io/application={app.name}"


def test_deploy_fails_early_on_image_pull_back_off_naming_each_pod(app: App) -> None:
    app.settings(**{"ready-timeout": 120, "wait": FAST})
    before = app.listeners()

    result = app.bluegreen("deploy", "--commit", "pull-fails0aaaa")

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert error.startswith(
        f"Deployment {app.name}-green: every new pod is failing and will not recover by itself: "
    )
    image = f"octoblu/{app.name}:pull-fails0aaaa"
    for pod in app.pods("green"):
        assert (
            f'pod {pod.metadata.name}: ImagePullBackOff: Back-off pulling image "{image}"' in error
            or f"pod {pod.metadata.name}: ErrImagePull: rpc error: code = NotFound" in error
        )
    assert "after 120 s" not in error  # it did not wait the timeout out
    assert app.listeners() == before
    assert app.health_target() is None
    progress = progress_lines(result.stderr)
    assert any(line.get("reason") in ("ImagePullBackOff", "ErrImagePull") for line in progress)


def test_deploy_fails_early_on_crash_loop_with_restarts_and_exit_code(app: App) -> None:
    before = live_on_green(app)
    app.settings(**{"ready-timeout": 120, "wait": {"progress-every": 0.5, "crash-restarts": 3}})

    result = app.bluegreen("deploy", "--commit", "crashloop0bbbb")

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert "every new pod is failing and will not recover by itself" in error
    pods = app.pods("blue")
    assert len(pods) == 2
    for pod in pods:
        assert f"pod {pod.metadata.name}: CrashLoopBackOff (restarts " in error
        assert pod.status.container_statuses[0].restart_count >= 3
    assert "last exit code 1 (Error)" in error
    assert "kubectl logs --previous" in result.stderr
    assert app.listeners() == before
    assert app.status()["active"]["commit"] == V1


def test_a_crash_loop_below_the_restart_limit_is_waited_for(app: App) -> None:
    app.settings(**{"ready-timeout": 2, "wait": {"progress-every": 0.5, "crash-restarts": 1000}})

    result = app.bluegreen("deploy", "--commit", "crashloop0cccc")

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert error.startswith(f"Deployment {app.name}-green: 0/2 replicas Ready after 2 s; pod ")
    assert "CrashLoopBackOff (restarts " in error or "NotReady (restarts " in error


def test_application_start_hook_fails_early_on_image_pull_back_off(app: App) -> None:
    app.settings(**{"ready-timeout": 120, "wait": FAST})
    bundle = unpack_bundle(app, "d-PULL")
    (bundle / "RELEASE").write_text("pull-fails0dddd\n")
    assert run_hook(app, bundle, "d-PULL", "BeforeInstall").returncode == 0
    before = app.listeners()

    result = run_hook(app, bundle, "d-PULL", "ApplicationStart")

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert "every new pod is failing and will not recover by itself" in error
    assert "ImagePullBackOff" in error or "ErrImagePull" in error
    assert error_line(result.stderr)["lifecycle_event"] == "ApplicationStart"
    assert app.listeners() == before
    shutil.rmtree(bundle.parent)


def test_application_start_hook_fails_early_on_crash_loop(app: App) -> None:
    app.settings(**{"ready-timeout": 120, "wait": {"progress-every": 0.5}})
    bundle = unpack_bundle(app, "d-CRASH")
    (bundle / "RELEASE").write_text("crashloop0dddd\n")
    assert run_hook(app, bundle, "d-CRASH", "BeforeInstall").returncode == 0
    before = app.listeners()

    result = run_hook(app, bundle, "d-CRASH", "ApplicationStart")

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert "every new pod is failing and will not recover by itself" in error
    assert "CrashLoopBackOff (restarts " in error
    assert app.listeners() == before


def error_line(stderr: str) -> dict[str, Any]:
    (line,) = [line for line in json_lines(stderr) if line.get("level") == "error"]
    return line


def test_progress_lines_keep_coming_while_nothing_changes(app: App) -> None:
    app.settings(**{"ready-timeout": 3, "wait": {"progress-every": 0.5}})

    result = app.bluegreen("deploy", "--commit", "broken0dddddddd")

    assert result.returncode == 1, result.stderr
    quiet = [line for line in progress_lines(result.stderr) if line.get("reason")]
    assert len(quiet) >= 2, result.stderr  # the same 0/2 again and again, each with its times
    for line in quiet:
        assert (line["progress"], line["ready"], line["desired"]) == ("0/2 ready", 0, 2)
        assert line["workload"] == f"{app.name}-green"
        assert line["reason"] == "NotReady"
        assert line["pod"].startswith(f"{app.name}-green-")
        assert line["elapsed"] + line["remaining"] in (2, 3, 4)
        assert line["step"] == "wait" and line["application"] == app.name
    assert [line["elapsed"] for line in quiet] == sorted(line["elapsed"] for line in quiet)
    assert any(
        line.get("message") == "Readiness probe failed: HTTP probe failed with statuscode: 503"
        for line in quiet
    )
    assert "NotReady: Readiness probe failed: HTTP probe failed" in error_of(result.stderr)


def test_progress_lines_on_a_terminal_are_one_line_each(app: App) -> None:
    app.settings(**{"ready-timeout": 2, "wait": {"progress-every": 0.5}})

    result = app.bluegreen("deploy", "--commit", "broken0eeeeeeee", "--log-format", "console")

    assert result.returncode == 1
    waiting = [line for line in result.stderr.splitlines() if "wait: waiting for pods" in line]
    assert any("reason=NotReady" in line and "remaining=" in line for line in waiting), waiting
    assert all(line.count("waiting for pods") == 1 for line in waiting)


def one_ready_then_unready(app: App, timeout: float, **wait: Any) -> runs.Background:
    """A deploy whose first pod turns Ready and, once the deploy has seen 1/2 Ready, unready;
    the other pod is never Ready."""
    app.sandbox.kube.pods.fail("never-ready", selector=selector(app), limit=1)
    app.settings(**{"ready-timeout": timeout, "wait": {"progress-every": 0.5, **wait}})
    run = runs.start(app, "deploy", "--commit", V1)
    run.wait_for('"progress": "1/2 ready"')
    (ready,) = [p for p in app.pods("green") if p.status.container_statuses[0].ready]
    app.sandbox.kube.pods.fail("turns-unready", pod=ready.metadata.name)
    return run


def test_a_pod_that_turns_unready_is_reported_and_not_counted(app: App) -> None:
    before = app.listeners()
    run = one_ready_then_unready(app, 4)
    run.wait_for("a Ready replica turned unready")

    code, stderr = run.finish(timeout=120)

    assert code == 1, stderr
    lines = json_lines(stderr)
    (turned,) = [line for line in lines if line.get("event") == "a Ready replica turned unready"]
    assert (turned["level"], turned["progress"], turned["unready_turns"]) == (
        "warning",
        "0/2 ready",
        1,
    )
    error = error_of(stderr)
    assert error.startswith(f"Deployment {app.name}-green: 0/2 replicas Ready after 4 s; ")
    assert 'NotReady: Readiness probe failed: Get "http://' in error
    assert '/healthcheck": dial tcp ' in error and "connection refused" in error
    assert "NotReady: Readiness probe failed: HTTP probe failed with statuscode: 503" in error
    assert app.listeners() == before


def test_a_flapping_release_never_switches_when_stability_is_required(app: App) -> None:
    before = app.listeners()
    app.settings(
        **{
            "ready-timeout": 3,
            "wait": {"progress-every": 0.5, "stable-for": 1, "stable-after-unready": 1},
        }
    )

    result = app.bluegreen("deploy", "--commit", "flapping0aaaa")

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert error.startswith(f"Deployment {app.name}-green: "), error
    assert (
        "replicas not Ready for 1 s in a row within 3 s" in error
        or "replicas Ready after 3 s" in error
    )
    assert any(line.get("unready_turns") for line in progress_lines(result.stderr))
    assert app.listeners() == before


def test_an_image_pull_that_recovers_within_the_grace_deploys(app: App) -> None:
    app.sandbox.kube.pods.fail("pull-fails", selector=selector(app))
    app.settings(**{"ready-timeout": 60, "wait": {"progress-every": 0.5, "image-pull-grace": 60}})
    run = runs.start(app, "deploy", "--commit", V1)
    try:
        run.wait_for('"reason": "ImagePullBackOff"')
    finally:
        app.sandbox.kube.pods.heal(selector=selector(app))

    code, stderr = run.finish()

    assert code == 0, stderr
    assert app.instance_ports() == {app.green}
    assert all(p.status.container_statuses[0].ready for p in app.pods("green"))


def test_bad_wait_settings_exit_2_and_touch_nothing(app: App) -> None:
    app.settings(wait={"crash-restarts": 0})
    before = app.snapshot()

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 2
    assert "key 'wait.crash-restarts': expected a whole number from 1 to 1000, got 0" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert app.snapshot() == before


def test_without_access_to_events_the_reasons_say_less_but_the_deploy_fails_cleanly(
    app: App,
) -> None:
    app.settings(**{"ready-timeout": 2, "wait": {"progress-every": 0.5}})
    app.sandbox.kube.faults.refuse("GET", "/events", status=403)  # an older Role
    try:
        result = app.bluegreen("deploy", "--commit", "broken0ffffffff")
    finally:
        app.sandbox.kube.faults.clear()

    assert result.returncode == 1, result.stderr
    warnings = [
        line
        for line in json_lines(result.stderr)
        if line.get("event") == "cannot read pod events; reasons will say less"
    ]
    assert len(warnings) == 1, result.stderr
    assert warnings[0]["fix"] == "grant list on events (docs/rbac.yaml)"
    error = error_of(result.stderr)
    assert error.startswith(f"Deployment {app.name}-green: 0/2 replicas Ready after 2 s; pod ")
    assert ": NotReady" in error and "Readiness probe" not in error
    assert "Traceback" not in result.stderr


def test_after_a_replica_turned_unready_the_switch_waits_for_ready_to_last(app: App) -> None:
    run = one_ready_then_unready(app, 60, **{"stable-after-unready": 1})
    try:
        run.wait_for("a Ready replica turned unready")
    finally:
        app.sandbox.kube.pods.heal(selector=selector(app))

    code, stderr = run.finish()

    assert code == 0, stderr
    events = [line["event"] for line in json_lines(stderr)]
    hold = events.index("all Ready; checking they stay Ready")
    assert hold < events.index("traffic switched")
    assert [line["seconds"] for line in json_lines(stderr) if "seconds" in line] == [1]
    assert app.instance_ports() == {app.green}


def test_one_healthy_pod_keeps_the_wait_going_to_the_timeout(app: App) -> None:
    app.sandbox.kube.pods.fail("pull-fails", selector=selector(app), limit=1)
    app.settings(**{"ready-timeout": 2, "wait": {"progress-every": 0.5, "image-pull-grace": 0}})

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 1, result.stderr
    error = error_of(result.stderr)
    assert error.startswith(f"Deployment {app.name}-green: 1/2 replicas Ready after 2 s; pod ")
    assert "ImagePullBackOff" in error or "ErrImagePull" in error
    assert app.health_target() is None


def test_fails_early_through_transient_faults_and_cut_watches(app: App) -> None:
    app.settings(**{"ready-timeout": 120, "wait": {"progress-every": 0.5}})
    faults = app.sandbox.kube.faults
    faults.transient(0.2, statuses=(500, 429, 503), seed=7)
    faults.cut_watches(after_events=1)
    try:
        result = app.bluegreen("deploy", "--commit", "crashloop0eeee")
    finally:
        faults.clear()

    assert result.returncode == 1, result.stderr
    assert "every new pod is failing and will not recover by itself" in error_of(result.stderr)
    assert "CrashLoopBackOff (restarts " in error_of(result.stderr)
    assert app.health_target() is None


def test_oops_deploy_of_a_crash_looping_release_fails_early_naming_the_reason(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    crashing = "c0000000crashloop000000000000000000000000"
    with agent_running(sandbox):
        app = publishable(make_app(sandbox, tmp_path))
        app.settings(**{"ready-timeout": 120, "wait": {"progress-every": 0.5}})
        publish(app, crashing)
        before = app.listeners()

        result = oops(app, "deploy", crashing)

    assert result.returncode == 1, result.stderr
    events = lifecycle_events(result.stdout.strip())
    assert events["ApplicationStart"]["status"] == "Failed"
    assert "every new pod is failing and will not recover by itself" in result.stderr
    assert "CrashLoopBackOff (restarts " in result.stderr
    assert app.listeners() == before
