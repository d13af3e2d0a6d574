"""Environment errors are config errors: exit 2 with the fix, before anything is touched.

Each run is a subprocess with a clean environment: HOME is an empty folder (no ~/.aws, no
~/.kube), and only what the test names points the clients at the sandbox.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.world import App


def clean_env(sandbox: Sandbox, home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AWS_ENDPOINT_URL": sandbox.aws.url,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-role probe of 169.254.169.254
        "KUBECONFIG": str(sandbox.kubeconfig),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def run(app: App, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", *argv, "--config", str(app.config)],
        capture_output=True,
        text=True,
        cwd=app.folder,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def no_region_in_the_config(app: App) -> None:
    """The example app names its region; these tests choose where a region comes from."""
    app.settings(region=None)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    empty = tmp_path / "home"
    empty.mkdir()
    return empty


COMMANDS = [
    ["status"],
    ["deploy", "--commit", "abc1234"],
    ["rollback"],
    ["render", "--commit", "abc1234"],
    ["repair", "--color", "blue"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_no_region_anywhere_exits_2_with_the_fix_before_any_call(
    sandbox: Sandbox, app: App, home: Path, command: list[str]
) -> None:
    aws_before, kube_before = sandbox.aws.request_count, sandbox.kube.request_count

    result = run(app, clean_env(sandbox, home), *command)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "no AWS region" in result.stderr
    assert "AWS_REGION" in result.stderr and '\\"region\\"' in result.stderr
    assert sandbox.aws.request_count == aws_before
    assert sandbox.kube.request_count == kube_before


def test_a_region_in_the_config_is_enough(sandbox: Sandbox, app: App, home: Path) -> None:
    app.settings(region="us-west-2")

    result = run(app, clean_env(sandbox, home), "status")

    assert result.returncode == 0, result.stderr


def test_a_region_in_the_aws_profile_is_enough(sandbox: Sandbox, app: App, home: Path) -> None:
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text("[default]\nregion = us-west-2\n")

    result = run(app, clean_env(sandbox, home), "rollback", "--force")

    assert result.returncode == 0, result.stderr
    assert app.instance_ports() == {app.green}


def test_an_unknown_aws_profile_exits_2_naming_it(sandbox: Sandbox, app: App, home: Path) -> None:
    env = clean_env(sandbox, home, AWS_PROFILE="nosuchprofile", AWS_DEFAULT_REGION="us-west-2")

    result = run(app, env, "status")

    assert result.returncode == 2, result.stderr
    assert "'nosuchprofile'" in result.stderr and "aws configure --profile" in result.stderr


def test_no_aws_credentials_exit_2_with_the_fix(sandbox: Sandbox, app: App, home: Path) -> None:
    env = clean_env(
        sandbox,
        home,
        AWS_DEFAULT_REGION="us-west-2",
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
    )
    aws_before = sandbox.aws.request_count

    result = run(app, env, "status")

    assert result.returncode == 2, result.stderr
    assert "Unable to locate credentials" in result.stderr
    assert "AWS_ACCESS_KEY_ID" in result.stderr
    assert sandbox.aws.request_count == aws_before


BROKEN_KUBECONFIGS = {
    "missing": None,
    "invalid-yaml": "users: [{name: u, user: {token: secret-token-123}\n",
    "not-a-mapping": "- just\n- a list\n",
    "wrong-types": "apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: 5\n",
    "empty": "",
    "binary": "\udcff\udcfe",
    "directory": "<dir>",
}


@pytest.mark.parametrize("case", sorted(BROKEN_KUBECONFIGS))
def test_an_unusable_kubeconfig_exits_2_naming_the_file_before_any_kubernetes_call(
    sandbox: Sandbox, app: App, home: Path, tmp_path: Path, case: str
) -> None:
    kubeconfig = tmp_path / f"kubeconfig-{case}"
    content = BROKEN_KUBECONFIGS[case]
    if content == "<dir>":
        kubeconfig.mkdir()
    elif content is not None:
        kubeconfig.write_bytes(content.encode("utf-8", "surrogateescape"))
    env = clean_env(sandbox, home, KUBECONFIG=str(kubeconfig), AWS_DEFAULT_REGION="us-west-2")
    kube_before = sandbox.kube.request_count

    result = run(app, env, "readiness")

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(kubeconfig) in result.stderr
    assert "secret-token-123" not in result.stderr
    assert sandbox.kube.request_count == kube_before


def test_no_kubeconfig_at_all_says_where_it_looked(sandbox: Sandbox, app: App, home: Path) -> None:
    env = clean_env(sandbox, home, KUBECONFIG="", AWS_DEFAULT_REGION="us-west-2")

    result = run(app, env, "readiness")

    assert result.returncode == 2, result.stderr
    assert f"no kubeconfig at {home}/.kube/config" in result.stderr


def test_a_deploy_with_an_unusable_kubeconfig_touches_nothing(
    sandbox: Sandbox, app: App, home: Path, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [unclosed\n")
    before = app.snapshot()
    env = clean_env(sandbox, home, KUBECONFIG=str(kubeconfig), AWS_DEFAULT_REGION="us-west-2")

    result = run(app, env, "deploy", "--commit", "abc1234")

    assert result.returncode == 2, result.stderr
    assert f"cannot use the kubeconfig {kubeconfig}: invalid YAML at line 2" in result.stderr
    assert app.snapshot() == before


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("AWS_ENDPOINT_URL", "not a url", "Invalid endpoint: not a url"),
        ("AWS_ENDPOINT_URL", "http://", "Invalid endpoint: http://"),
        ("AWS_MAX_ATTEMPTS", "many", "'many'"),
    ],
)
def test_a_malformed_aws_setting_exits_2_naming_it(
    sandbox: Sandbox, app: App, home: Path, setting: str, value: str, fragment: str
) -> None:
    env = clean_env(sandbox, home, AWS_DEFAULT_REGION="us-west-2", **{setting: value})
    aws_before = sandbox.aws.request_count

    result = run(app, env, "status")

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "AWS settings: " in result.stderr and fragment in result.stderr
    assert sandbox.aws.request_count == aws_before
