"""`bluegreen sandbox`: both emulators on loopback, an env file, and a clean stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path


def _json_or_none(line: str) -> dict[str, str] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


def test_sandbox_serves_aws_and_kubernetes_until_interrupted(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bluegreen_hooks", "sandbox", "--env-file", str(env_file)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stderr is not None
        started = next(
            entry
            for entry in map(_json_or_none, sandbox.stderr)
            if entry and entry.get("event", "").startswith("sandbox running")
        )
        assert started["env_file"] == str(env_file)
        env = read_env_file(env_file)
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert Path(env["KUBECONFIG"]).is_file()

        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import boto3, os; from kubernetes import client, config;"
                "print(boto3.client('elb').describe_load_balancers()['LoadBalancerDescriptions']);"
                "api = config.new_client_from_config(config_file=os.environ['KUBECONFIG']);"
                "print([n.metadata.name for n in client.CoreV1Api(api).list_node().items])",
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.splitlines() == ["[]", "['sandbox-node']"]
    finally:
        sandbox.send_signal(signal.SIGINT)
        assert sandbox.wait(timeout=30) == 0
