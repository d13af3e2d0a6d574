"""kubectl in a shell that sourced the env file of `bluegreen sandbox`, as the README says."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_sandbox_command import Running, clean_env, start
from tests.e2e.world import EXAMPLE

BIN = Path(sys.executable).parent  # bluegreen and the pinned kubectl


@pytest.mark.slow
def test_kubectl_sees_a_deploy_after_sourcing_the_sandbox_env_file(tmp_path: Path) -> None:
    folder = tmp_path / "triggers-service"
    shutil.copytree(EXAMPLE, folder)
    settings = json.loads((folder / ".oopsrc").read_text())
    (folder / ".oopsrc").write_text(json.dumps({**settings, "namespace": "triggers"}))
    sandbox: Running = start("--app", str(folder), cwd=tmp_path)
    try:
        script = (
            ". ./sandbox.env\n"
            f"bluegreen deploy --commit 1111111aaaaaaaa --config {folder / '.oopsrc'} 2>/dev/null\n"
            "kubectl -n triggers rollout status deployment/triggers-service-green --timeout=30s\n"
            "kubectl -n triggers get pods,services\n"
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=clean_env(PATH=f"{BIN}:/usr/bin:/bin", HOME=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        assert sandbox.stop(signal.SIGTERM) == 0
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert 'deployment "triggers-service-green" successfully rolled out' in lines[0]
    pods = [line.split() for line in lines if line.startswith("pod/triggers-service-green-")]
    assert len(pods) == 2
    assert all(pod[1:4] == ["1/1", "Running", "0"] for pod in pods)
    service = next(line.split() for line in lines if line.startswith("service/"))
    assert service[:2] == ["service/triggers-service-green", "NodePort"]
    assert service[4] == "80:30002/TCP"
