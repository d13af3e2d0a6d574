"""Publishing bundles to the emulated S3, listing them, and finding one by commit prefix."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.releases import (
    bucket_of,
    codedeploy,
    deployment,
    oops,
    publish,
    publishable,
    s3,
    stored_bundle,
)
from tests.e2e.world import App, make_app

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"
V3 = "2222222ccccccccc"


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> App:
    return publishable(make_app(sandbox, tmp_path))


def head(app: App, key: str) -> dict[str, object]:
    found: dict[str, object] = s3().head_object(Bucket=bucket_of(app), Key=key)
    return found


def test_upload_puts_the_bundle_under_the_seeds_key_with_its_hash(app: App) -> None:
    key = publish(app, V1)

    assert key == f"{app.name}/{app.name}-{V1}.zip"
    local = (app.folder.parent / "dist" / f"{app.name}-{V1}.zip").read_bytes()
    stored = s3().get_object(Bucket=bucket_of(app), Key=key)
    assert stored["Body"].read() == local
    assert stored["Metadata"]["sha256"] == hashlib.sha256(local).hexdigest()
    assert stored["ETag"].strip('"') == hashlib.md5(local).hexdigest()
    assert stored_bundle(app, key).read("RELEASE").decode().split()[0] == V1


def test_the_same_content_is_not_uploaded_twice_and_the_command_says_so(app: App) -> None:
    key = publish(app, V1)
    first = head(app, key)["LastModified"]

    result = app.bluegreen("bundle", "--commit", V1, "--upload", "--out", str(app.folder / "d"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key
    assert "upload skipped" in result.stderr
    assert head(app, key)["LastModified"] == first


def test_changed_content_under_the_same_commit_is_uploaded_again(app: App) -> None:
    key = publish(app, V1)
    before = head(app, key)["Metadata"]
    app.settings(**{"ready-timeout": 33})

    publish(app, V1)

    assert head(app, key)["Metadata"] != before
    assert b'"ready-timeout": 33' in stored_bundle(app, key).read(".oopsrc")


@pytest.mark.parametrize("command", [("bundle", "--commit", V1, "--upload"), ("releases",)])
def test_a_missing_bucket_is_a_config_error(app: App, command: tuple[str, ...]) -> None:
    app.settings(**{"s3-bucket": f"missing-{app.name}"})

    result = app.bluegreen(*command)

    assert result.returncode == 2
    assert f"S3 bucket 'missing-{app.name}'" in result.stderr
    assert "Traceback" not in result.stderr


def next_second() -> None:
    """S3 keeps LastModified to the second: let the clock move on before the next upload."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)


@pytest.mark.slow
def test_list_shows_releases_newest_first_marking_active_and_idle(app: App) -> None:
    for commit in (V2, V3, V1):  # neither the order of the keys nor its reverse
        next_second()
        publish(app, commit)
    assert app.bluegreen("deploy", "--commit", V1).returncode == 0  # green
    assert app.bluegreen("deploy", "--commit", V2).returncode == 0  # blue

    result = oops(app, "list", "--output", "json")

    assert result.returncode == 0, result.stderr
    releases = json.loads(result.stdout)["releases"]
    assert [r["commit"] for r in releases] == [V1, V3, V2]
    assert [(r["live"], r["color"]) for r in releases] == [
        ("idle", "green"),
        (None, None),
        ("active", "blue"),
    ]
    for release in releases:
        stored = head(app, release["key"])
        assert release["size"] == stored["ContentLength"]
        assert release["time"] == stored["LastModified"].isoformat()  # type: ignore[attr-defined]
    text = oops(app, "list").stdout.splitlines()
    assert text[1].endswith("<- idle (green)") and text[3].endswith("<- active (blue)")
    assert "<-" not in text[2]


def test_list_ignores_other_objects_in_the_bucket(app: App) -> None:
    publish(app, V1)
    others = (
        f"{app.name}/notes.txt",
        f"{app.name}/{app.name}-x/y.zip",
        f"{app.name}-other/{app.name}-x.zip",
        "README",
    )
    for key in others:
        s3().put_object(Bucket=bucket_of(app), Key=key, Body=b"x")

    result = oops(app, "list", "--output", "json")

    assert [r["commit"] for r in json.loads(result.stdout)["releases"]] == [V1]


def test_list_of_an_empty_bucket_says_so(app: App) -> None:
    result = oops(app, "list")

    assert result.returncode == 0
    assert "no releases" in result.stdout


def test_deploy_by_ambiguous_prefix_exits_2_listing_the_candidates(app: App) -> None:
    for commit in (V2, V3):
        publish(app, commit)
    before = app.snapshot()

    result = oops(app, "deploy", "2222222")

    assert result.returncode == 2
    assert "ambiguous" in result.stderr and V2 in result.stderr and V3 in result.stderr
    assert result.stdout == ""
    assert app.snapshot() == before


def test_deploy_of_a_too_short_prefix_is_refused(app: App) -> None:
    publish(app, V1)

    result = oops(app, "deploy", "111")

    assert result.returncode == 2
    assert "at least 4" in result.stderr


def test_deploy_needs_a_deployment_group(app: App) -> None:
    publish(app, V1)
    data = json.loads(app.config.read_text())
    del data["deployment-group"]
    app.config.write_text(json.dumps(data))

    result = oops(app, "deploy", V1)

    assert result.returncode == 2
    assert "'deployment-group'" in result.stderr


def test_deploy_to_an_unknown_deployment_group_exits_2(app: App) -> None:
    publish(app, V1)
    app.settings(**{"deployment-group": "nope"})

    result = oops(app, "deploy", V1)

    assert result.returncode == 2
    assert "deployment group 'nope'" in result.stderr


def test_list_still_answers_when_the_load_balancer_state_is_inconsistent(app: App) -> None:
    publish(app, V1)
    app.set_tags(green=str(app.blue))  # both colors on one port: exit 4 for a deploy

    result = oops(app, "list", "--output", "json")

    assert result.returncode == 0, result.stderr
    assert [(r["commit"], r["live"]) for r in json.loads(result.stdout)["releases"]] == [(V1, None)]
    assert "cannot tell which release is live" in result.stderr


def test_deploy_to_a_missing_codedeploy_application_exits_2(app: App) -> None:
    publish(app, V1)
    data = json.loads(app.config.read_text())
    data["application-name"] = f"{app.name}-x"
    app.config.write_text(json.dumps(data))
    s3().copy_object(
        Bucket=bucket_of(app),
        Key=f"{app.name}-x/{app.name}-x-{V1}.zip",
        CopySource={"Bucket": bucket_of(app), "Key": f"{app.name}/{app.name}-{V1}.zip"},
    )

    result = oops(app, "deploy", V1)

    assert result.returncode == 2
    assert f"CodeDeploy application '{app.name}-x'" in result.stderr
    assert result.stdout == ""


def test_an_exact_commit_wins_over_a_longer_one_it_prefixes(app: App) -> None:
    short, longer = "abcd1234", "abcd12345678"
    publish(app, longer)
    key = publish(app, short)

    result = oops(app, "deploy", short, "--no-wait")

    assert result.returncode == 0, result.stderr
    deployment_id = result.stdout.strip()
    try:
        assert deployment(deployment_id)["revision"]["s3Location"]["key"] == key
    finally:
        codedeploy().stop_deployment(deploymentId=deployment_id)  # not this test's subject


def test_deploy_of_a_prefix_longer_than_any_commit_is_refused_briefly(app: App) -> None:
    publish(app, V1)
    before = app.snapshot()

    result = oops(app, "deploy", "1" * 5000)

    assert result.returncode == 2
    assert "at most 63" in result.stderr
    assert "1" * 100 not in result.stderr  # the argument is quoted bounded, not whole
    assert app.snapshot() == before
