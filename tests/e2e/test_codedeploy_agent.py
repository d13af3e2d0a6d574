"""The sandbox's emulated CodeDeploy agent, driven through the CodeDeploy API and read back."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.releases import (
    GROUP,
    agent_running,
    bucket_of,
    codedeploy,
    lifecycle_events,
    publishable,
    s3,
    scripts_log,
    wait_for_end,
)
from tests.e2e.world import App, make_app

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    r"(LifecycleEvent - \w+|Script - \S+|\[stdout\].*|\[stderr\].*)$"
)
EVENTS = ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    """A publishable app, with the emulated agent running for this test only."""
    with agent_running(sandbox):
        yield publishable(make_app(sandbox, tmp_path))


def appspec(hooks: dict[str, tuple[str, int]]) -> str:
    lines = ["version: 0.0", "os: linux", "hooks:"]
    for event, (location, timeout) in hooks.items():
        lines += [f"  {event}:", f"    - location: {location}", f"      timeout: {timeout}"]
    return "\n".join(lines) + "\n"


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o100755 if name.startswith("hooks/") else 0o100644) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def deploy(app: App, body: bytes, key: str = "bundle.zip", **location: str) -> str:
    """Upload `body` and start a deployment of it, as `oops deploy` would."""
    etag = s3().put_object(Bucket=bucket_of(app), Key=key, Body=body)["ETag"]
    revision = {"bucket": bucket_of(app), "key": key, "bundleType": "zip", "eTag": etag}
    revision.update(location)
    created = codedeploy().create_deployment(
        applicationName=app.name,
        deploymentGroupName=GROUP,
        revision={"revisionType": "S3", "s3Location": revision},
    )
    return str(created["deploymentId"])


def echo_hooks(events: tuple[str, ...] = EVENTS) -> dict[str, str]:
    files = {"appspec.yml": appspec({e: (f"hooks/{e}", 30) for e in events})}
    for event in events:
        files[f"hooks/{event}"] = f'#!/bin/sh\necho "{event} of $DEPLOYMENT_ID from $0"\n'
    return files


def group_id(app: App) -> str:
    found: dict[str, Any] = codedeploy().get_deployment_group(
        applicationName=app.name, deploymentGroupName=GROUP
    )
    return str(found["deploymentGroupInfo"]["deploymentGroupId"])


def test_hooks_run_from_the_unpacked_archive_with_the_agents_environment(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUEGREEN_CONFIG", "/nowhere/.oopsrc")  # the agent's own: not for hooks
    names = [
        "BLUEGREEN_CONFIG",
        "LIFECYCLE_EVENT",
        "DEPLOYMENT_ID",
        "APPLICATION_NAME",
        "DEPLOYMENT_GROUP_NAME",
        "DEPLOYMENT_GROUP_ID",
        "BUNDLE_BUCKET",
        "BUNDLE_KEY",
        "BUNDLE_ETAG",
    ]
    script = '#!/bin/sh\necho "script=$0"\n' + "".join(f'echo "{n}=${n}"\n' for n in names)
    body = zipped(
        {"appspec.yml": appspec({"BeforeInstall": ("hooks/env", 30)}), "hooks/env": script}
    )

    deployment_id = deploy(app, body, key=f"{app.name}/{app.name}-abc1234.zip")

    assert wait_for_end(deployment_id)["status"] == "Succeeded"
    root = app.sandbox.agent.deployment_root / group_id(app) / deployment_id  # type: ignore[union-attr]
    log = (root / "logs" / "scripts.log").read_text().splitlines()
    assert all(LOG_LINE.match(line) for line in log), log
    seen = dict(line.split(" [stdout]", 1)[1].split("=", 1) for line in log if "[stdout]" in line)
    etag = s3().head_object(Bucket=bucket_of(app), Key=f"{app.name}/{app.name}-abc1234.zip")["ETag"]
    assert seen == {
        "script": str(root / "deployment-archive" / "hooks" / "env"),
        "LIFECYCLE_EVENT": "BeforeInstall",
        "DEPLOYMENT_ID": deployment_id,
        "APPLICATION_NAME": app.name,
        "DEPLOYMENT_GROUP_NAME": GROUP,
        "DEPLOYMENT_GROUP_ID": group_id(app),
        "BUNDLE_BUCKET": bucket_of(app),
        "BUNDLE_KEY": f"{app.name}/{app.name}-abc1234.zip",
        "BUNDLE_ETAG": etag,
        "BLUEGREEN_CONFIG": "",
    }
    assert (root / "deployment-archive" / "appspec.yml").is_file()


def test_events_run_in_lifecycle_order_and_application_stop_uses_the_last_success(
    app: App,
) -> None:
    first = deploy(app, zipped(echo_hooks()))
    assert wait_for_end(first)["status"] == "Succeeded"

    second = deploy(app, zipped(echo_hooks()))
    assert wait_for_end(second)["status"] == "Succeeded"

    first_log = scripts_log(app, first).read_text().splitlines()
    echoed = [line.split("[stdout]")[1].split()[0] for line in first_log if "[stdout]" in line]
    assert echoed == list(EVENTS[1:])  # no ApplicationStop: nothing succeeded before
    second_log = scripts_log(app, second).read_text()
    events_in_log = re.findall(r"LifecycleEvent - (\w+)", second_log)
    assert events_in_log == list(EVENTS)
    assert f"ApplicationStop of {second} from " in second_log
    assert f"/{first}/deployment-archive/hooks/ApplicationStop" in second_log
    assert list(lifecycle_events(second)) == [
        "ApplicationStop",
        "DownloadBundle",
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
    ]


def test_a_failing_script_fails_its_event_skips_the_rest_and_fails_the_deployment(
    app: App,
) -> None:
    files = echo_hooks(("BeforeInstall", "AfterInstall", "ApplicationStart"))
    files["hooks/AfterInstall"] = "#!/bin/sh\necho about to fail >&2\nexit 3\n"

    deployment_id = deploy(app, zipped(files))

    info = wait_for_end(deployment_id)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    assert info["deploymentOverview"]["Failed"] == 1
    events = lifecycle_events(deployment_id)
    assert {k: v["status"] for k, v in events.items()} == {
        "ApplicationStop": "Succeeded",
        "DownloadBundle": "Succeeded",
        "BeforeInstall": "Succeeded",
        "Install": "Succeeded",
        "AfterInstall": "Failed",
        "ApplicationStart": "Skipped",
        "ValidateService": "Skipped",
    }
    diagnostics = events["AfterInstall"]["diagnostics"]
    assert diagnostics["errorCode"] == "ScriptFailed"
    assert diagnostics["scriptName"] == "hooks/AfterInstall"
    assert diagnostics["message"].endswith("failed with exit code 3")
    assert "[stderr]about to fail" in diagnostics["logTail"]
    succeeded = codedeploy().list_deployment_targets(
        deploymentId=deployment_id, targetFilters={"TargetStatus": ["Succeeded"]}
    )
    assert succeeded["targetIds"] == []


def test_a_missing_script_is_reported_as_script_missing(app: App) -> None:
    files = {"appspec.yml": appspec({"BeforeInstall": ("hooks/nowhere", 30)})}

    deployment_id = deploy(app, zipped(files))

    assert wait_for_end(deployment_id)["status"] == "Failed"
    failed = lifecycle_events(deployment_id)["BeforeInstall"]
    assert failed["diagnostics"]["errorCode"] == "ScriptMissing"


@pytest.mark.parametrize(
    ("body", "location", "message"),
    [
        (b"not a zip", {}, "not a zip"),
        (zipped(echo_hooks()), {"eTag": '"0123456789abcdef0123456789abcdef"'}, "Expected"),
    ],
)
def test_a_bad_download_fails_download_bundle_and_runs_no_script(
    app: App, body: bytes, location: dict[str, str], message: str
) -> None:
    deployment_id = deploy(app, body, **location)

    assert wait_for_end(deployment_id)["status"] == "Failed"
    events = lifecycle_events(deployment_id)
    assert events["DownloadBundle"]["status"] == "Failed"
    assert message in events["DownloadBundle"]["diagnostics"]["message"]
    assert events["BeforeInstall"]["status"] == "Skipped"
    assert not scripts_log(app, deployment_id).exists()


def test_the_agent_keeps_the_last_five_revisions_of_a_group(app: App) -> None:
    ids = []
    for _ in range(7):
        ids.append(deploy(app, zipped(echo_hooks(("BeforeInstall",)))))
        assert wait_for_end(ids[-1])["status"] == "Succeeded"

    group = app.sandbox.agent.deployment_root / group_id(app)  # type: ignore[union-attr]
    assert sorted(p.name for p in group.iterdir()) == sorted(ids[-5:])


def test_a_script_whose_child_keeps_its_output_open_fails_when_its_timeout_ends(
    app: App,
) -> None:
    files = {
        "appspec.yml": appspec({"BeforeInstall": ("hooks/leaves-a-child", 1)}),
        "hooks/leaves-a-child": "#!/bin/sh\necho leaving\nsleep 60 &\nexit 0\n",
    }

    deployment_id = deploy(app, zipped(files))

    assert wait_for_end(deployment_id)["status"] == "Failed"
    failed = lifecycle_events(deployment_id)["BeforeInstall"]
    assert failed["status"] == "Failed"
    assert failed["diagnostics"]["message"].endswith("failed to close STDOUT")
    assert "[stdout]leaving" in failed["diagnostics"]["logTail"]
