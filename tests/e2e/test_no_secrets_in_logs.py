"""No credential or secret value ever appears in what a run prints: canary values in the AWS
environment and in the kubeconfig's token, through deploys, rollbacks and their failures."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from tests.e2e.world import App

SECRET = f"canary-secret-{uuid.uuid4().hex}"
SESSION = f"canary-session-{uuid.uuid4().hex}"
TOKEN = f"canary-kube-token-{uuid.uuid4().hex}"
CANARIES = (SECRET, SESSION, TOKEN)


@pytest.fixture
def canary_env(app: App, tmp_path: Path) -> dict[str, str]:
    """The sandbox's kubeconfig with the canary token; the AWS secrets set to canaries."""
    kubeconfig = yaml.safe_load(app.sandbox.kubeconfig.read_text())
    for user in kubeconfig["users"]:
        user["user"]["token"] = TOKEN
    path = tmp_path / "canary-kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": SESSION, "KUBECONFIG": str(path)}


def printed(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_no_canary(result: subprocess.CompletedProcess[str]) -> None:
    for canary in CANARIES:
        # A prefix too: error snippets quote the start of a long line and cut the rest.
        assert canary[:30] not in printed(result), f"a secret leaked into {result.args}"


@pytest.mark.slow
def test_deploy_status_and_rollback_print_no_secret(app: App, canary_env: dict[str, str]) -> None:
    runs = [
        app.bluegreen("deploy", "--commit", "1111111aaaaaaaa", env=canary_env),
        app.bluegreen(
            "deploy", "--commit", "2222222bbbbbbbb", "--log-format", "console", env=canary_env
        ),
        app.bluegreen("status", "--output", "json", env=canary_env),
        app.bluegreen("readiness", "--output", "json", env=canary_env),
        app.bluegreen("rollback", env=canary_env),
    ]

    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0], [r.stderr for r in runs]
    for result in runs:
        assert_no_canary(result)


@pytest.mark.slow
def test_failures_print_no_secret(app: App, canary_env: dict[str, str], tmp_path: Path) -> None:
    app.settings(**{"ready-timeout": 1})
    broken_kubeconfig = tmp_path / "broken-kubeconfig"
    broken_kubeconfig.write_text(
        Path(canary_env["KUBECONFIG"]).read_text().replace(f"token: {TOKEN}", f'token: "{TOKEN}')
    )
    unreachable_kubeconfig = tmp_path / "unreachable-kubeconfig"
    unreachable_kubeconfig.write_text(
        Path(canary_env["KUBECONFIG"])
        .read_text()
        .replace(app.sandbox.kube.url, "http://127.0.0.1:9")
    )
    never_ready = app.bluegreen("deploy", "--commit", "broken0dddddddd", env=canary_env)
    refused_rollback = app.bluegreen("rollback", env=canary_env)
    app.settings(namespace="no-such-namespace")
    kubernetes_error = app.bluegreen("deploy", "--commit", "3333333cccccccc", env=canary_env)
    app.settings(namespace="default", **{"elb-name": "no-such-elb"})
    aws_error = app.bluegreen("status", env=canary_env)
    app.settings(**{"elb-name": app.elb_name})
    bad_kubeconfig = app.bluegreen(
        "readiness", env={**canary_env, "KUBECONFIG": str(broken_kubeconfig)}
    )
    unreachable = app.bluegreen(
        "rollback", env={**canary_env, "KUBECONFIG": str(unreachable_kubeconfig)}
    )
    aws_unreachable = app.bluegreen(
        "status",
        env={**canary_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
    )

    results = {
        "never ready": (never_ready, 1),
        "rollback refused": (refused_rollback, 1),
        "kubernetes error": (kubernetes_error, 2),
        "aws error": (aws_error, 2),
        "bad kubeconfig": (bad_kubeconfig, 2),
        "kubernetes unreachable": (unreachable, 1),
        "aws unreachable": (aws_unreachable, 1),
    }
    for name, (result, code) in results.items():
        assert result.returncode == code, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert_no_canary(result)
