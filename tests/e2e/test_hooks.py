"""The three CodeDeploy hooks, run as the agent runs them: shims, environment, working directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.world import REPO, App

COMMIT = "3333333cccccccc"
EVENTS = ("BeforeInstall", "ApplicationStart", "ValidateService")
SHIMS = {
    "BeforeInstall": "before-install",
    "ApplicationStart": "application-start",
    "ValidateService": "validate-service",
}


def unpack_bundle(app: App, deployment_id: str) -> Path:
    """Lay the bundle out where the agent would: deployment-root/<group>/<id>/deployment-archive."""
    root = app.folder.parent / "deployment-root" / "group-id" / deployment_id / "deployment-archive"
    shutil.copytree(app.folder, root)
    shutil.copy(REPO / "appspec.yml", root / "appspec.yml")
    shutil.copytree(REPO / "hooks", root / "hooks")
    return root


def agent_env(app: App, deployment_id: str, event: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLUEGREEN_", "BUNDLE_"))}
    env.update(
        LIFECYCLE_EVENT=event,
        DEPLOYMENT_ID=deployment_id,
        APPLICATION_NAME=app.name,
        DEPLOYMENT_GROUP_NAME="master",
        DEPLOYMENT_GROUP_ID="group-id",
        BUNDLE_BUCKET="octoblu-deploy",
        BUNDLE_KEY=f"{app.name}/{app.name}-{COMMIT}.zip",
        BUNDLE_VERSION="v1",
        BUNDLE_ETAG="etag",
        BLUEGREEN_PYTHON=sys.executable,
    )
    return env


def run_hook(
    app: App, bundle: Path, deployment_id: str, event: str
) -> subprocess.CompletedProcess[str]:
    """Run the shim named in appspec.yml, from another working directory, as the agent does."""
    return subprocess.run(
        [str(bundle / "hooks" / SHIMS[event])],
        env=agent_env(app, deployment_id, event),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_all(app: App, bundle: Path, deployment_id: str) -> None:
    for event in EVENTS:
        result = run_hook(app, bundle, deployment_id, event)
        assert result.returncode == 0, f"{event}: {result.stderr}"


def test_appspec_maps_each_event_to_its_shim() -> None:
    import yaml

    appspec = yaml.safe_load((REPO / "appspec.yml").read_text())
    for event, shim in SHIMS.items():
        assert appspec["hooks"][event][0]["location"] == f"hooks/{shim}"
        assert os.access(REPO / "hooks" / shim, os.X_OK)


def test_three_hooks_switch_traffic_to_the_idle_color_with_the_bundle_key_commit(app: App) -> None:
    bundle = unpack_bundle(app, "d-HOOKS1")

    run_all(app, bundle, "d-HOOKS1")

    assert app.instance_ports() == {app.green}
    assert app.listeners()[443]["SSLCertificateId"] == app.certificate
    assert app.health_target() == f"HTTP:{app.green}/healthcheck"
    assert app.status()["active"] == {"color": "green", "port": app.green, "commit": COMMIT}


def test_before_install_saves_the_plan_beside_the_bundle_and_touches_nothing(app: App) -> None:
    bundle = unpack_bundle(app, "d-PLAN")
    before = app.snapshot()

    result = run_hook(app, bundle, "d-PLAN", "BeforeInstall")

    assert result.returncode == 0, result.stderr
    assert (bundle.parent / "bluegreen-plan-d-PLAN.json").is_file()
    assert app.snapshot() == before


def test_release_file_in_the_bundle_wins_over_bundle_key(app: App) -> None:
    bundle = unpack_bundle(app, "d-RELEASE")
    (bundle / "RELEASE").write_text("4444444eeeeeeee\n")

    run_all(app, bundle, "d-RELEASE")

    assert app.status()["active"]["commit"] == "4444444eeeeeeee"


@pytest.mark.parametrize("event", EVENTS)
def test_rerunning_a_hook_after_success_changes_nothing(app: App, event: str) -> None:
    bundle = unpack_bundle(app, "d-RERUN")
    run_all(app, bundle, "d-RERUN")
    before = app.snapshot()

    result = run_hook(app, bundle, "d-RERUN", event)

    assert result.returncode == 0, result.stderr
    assert app.snapshot() == before


@pytest.mark.slow
def test_application_start_rerun_by_hand_finds_the_saved_plan(app: App) -> None:
    bundle = unpack_bundle(app, "d-HAND")
    run_all(app, bundle, "d-HAND")
    before = app.snapshot()
    env = {k: v for k, v in os.environ.items() if k not in ("DEPLOYMENT_ID", "BUNDLE_KEY")}

    result = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "hook", "ApplicationStart"],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert '"deployment_id": "d-HAND"' in result.stderr
    assert app.snapshot() == before


def test_application_start_after_a_timeout_carries_on_when_rerun(app: App) -> None:
    app.settings(**{"ready-timeout": 1})
    app.sandbox.kube.ready_delay = 3.0
    try:
        bundle = unpack_bundle(app, "d-RESUME")
        assert run_hook(app, bundle, "d-RESUME", "BeforeInstall").returncode == 0
        first = run_hook(app, bundle, "d-RESUME", "ApplicationStart")
        assert first.returncode == 1, first.stderr
        assert app.instance_ports() == {app.blue}
        pods = {p.metadata.name for p in app.pods("green")}
        config = bundle / ".oopsrc"
        config.write_text(json.dumps({**json.loads(config.read_text()), "ready-timeout": 20}))

        second = run_hook(app, bundle, "d-RESUME", "ApplicationStart")

        assert second.returncode == 0, second.stderr
        assert {p.metadata.name for p in app.pods("green")} == pods
        assert app.instance_ports() == {app.green}
    finally:
        app.sandbox.kube.ready_delay = 0.2


def test_validate_service_fails_when_traffic_is_not_on_the_planned_color(app: App) -> None:
    bundle = unpack_bundle(app, "d-VALIDATE")
    for event in EVENTS[:2]:
        assert run_hook(app, bundle, "d-VALIDATE", event).returncode == 0
    assert app.bluegreen("rollback", "--force").returncode == 0

    result = run_hook(app, bundle, "d-VALIDATE", "ValidateService")

    assert result.returncode == 1
    assert "traffic is on blue, but the plan put it on green" in result.stderr


@pytest.mark.slow
def test_validate_service_sends_traffic_back_when_the_new_color_stops_being_ready(
    app: App,
) -> None:
    assert app.bluegreen("deploy", "--commit", "1111111aaaaaaaa").returncode == 0
    bundle = unpack_bundle(app, "d-FALLBACK")
    for event in EVENTS[:2]:
        assert run_hook(app, bundle, "d-FALLBACK", event).returncode == 0
    assert app.instance_ports() == {app.blue}
    app.apps.patch_namespaced_deployment(
        f"{app.name}-blue",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": app.name, "image": "broken"}]}}}},
    )

    result = run_hook(app, bundle, "d-FALLBACK", "ValidateService")

    assert result.returncode == 1
    # A rolling update keeps old pods until new ones are available: 0 or 1 of 2 is updated.
    assert re.search(r"blue is live but only [01]/2 replicas are Ready", result.stderr)
    assert app.instance_ports() == {app.green}
    assert app.health_target() == f"HTTP:{app.green}/healthcheck"


# --- what CodeDeploy would never do ------------------------------------------------------


def run_by_hand(
    app: App, *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bluegreen hook ...` typed by a person: no agent environment, no bundle root set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BLUEGREEN_", "BUNDLE_"))}
    clean.pop("DEPLOYMENT_ID", None)
    return subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "hook", *argv, "--log-format", "console"],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("event", EVENTS)
def test_a_hook_outside_a_bundle_exits_2_and_touches_nothing(app: App, event: str) -> None:
    before = app.snapshot()

    result = run_by_hand(app, event, cwd=app.folder, env={"DEPLOYMENT_ID": "d-NOBUNDLE"})

    assert result.returncode == 2, result.stderr
    assert f"{app.folder} has no appspec.yml" in result.stderr
    assert "--bundle-root" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.snapshot() == before
    assert not list(app.folder.parent.glob("bluegreen-plan-*.json"))


@pytest.mark.parametrize("origin", ["--bundle-root", "BLUEGREEN_BUNDLE_ROOT"])
def test_a_bundle_root_without_appspec_exits_2(app: App, origin: str) -> None:
    if origin == "--bundle-root":
        argv, env = ["BeforeInstall", "--bundle-root", str(app.folder)], {}
    else:
        argv, env = ["BeforeInstall"], {"BLUEGREEN_BUNDLE_ROOT": str(app.folder)}

    result = run_by_hand(app, *argv, cwd=app.folder.parent, env=env)

    assert result.returncode == 2, result.stderr
    assert f"{origin} names {app.folder}, which has no appspec.yml" in result.stderr
    assert not list(app.folder.parent.glob("bluegreen-plan-*.json"))


def test_validate_service_without_a_saved_plan_exits_2_naming_the_plan_file(app: App) -> None:
    bundle = unpack_bundle(app, "d-PLANNED")
    run_all(app, bundle, "d-PLANNED")
    before = app.snapshot()

    result = run_hook(app, bundle, "d-NEVERPLANNED", "ValidateService")

    assert result.returncode == 2, result.stderr
    missing = bundle.parent / "bluegreen-plan-d-NEVERPLANNED.json"
    record = json.loads(result.stderr.strip().splitlines()[-1])
    expected = f"no plan saved for deployment d-NEVERPLANNED: {missing} does not exist"
    assert record["event"] == expected
    assert "d-PLANNED" in record["fix"]
    assert app.snapshot() == before


def test_json_lines_of_a_hook_name_its_lifecycle_event(app: App) -> None:
    bundle = unpack_bundle(app, "d-EVENT")

    result = run_hook(app, bundle, "d-EVENT", "BeforeInstall")

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {r["lifecycle_event"] for r in records} == {"BeforeInstall"}
    assert records[-1]["event"] == "hook done"


def test_validate_service_by_hand_beside_two_plans_exits_2_listing_them(app: App) -> None:
    bundle = unpack_bundle(app, "d-TWO")
    for deployment_id in ("d-TWO", "d-OTHER"):
        assert run_hook(app, bundle, deployment_id, "BeforeInstall").returncode == 0
    before = app.snapshot()

    result = run_by_hand(app, "ValidateService", cwd=bundle)

    assert result.returncode == 2, result.stderr
    error, fix = result.stderr.strip().splitlines()
    assert error.startswith("error: no plan saved for deployment manual-")
    assert "plans saved here: d-OTHER, d-TWO" in fix
    assert app.snapshot() == before
