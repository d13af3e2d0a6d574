"""`bluegreen bundle` carries the scripts command gates run, so the hooks find them."""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from bluegreen_hooks import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "triggers-service"
COMMIT = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    shutil.copytree(EXAMPLE, folder)
    return folder


def bundled(app: Path, out: Path, gates: dict[str, object]) -> zipfile.ZipFile:
    config = app / ".oopsrc"
    config.write_text(json.dumps({**json.loads(config.read_text()), "gates": gates}))
    code = cli.main(["bundle", "--commit", COMMIT, "--out", str(out), "--config", str(config)])
    assert code == 0
    return zipfile.ZipFile(out / f"triggers-service-{COMMIT}.zip")


def test_a_command_gates_script_beside_the_config_goes_into_the_bundle_executable(
    app: Path, tmp_path: Path
) -> None:
    script = app / "ci" / "smoke-test.sh"
    script.parent.mkdir()
    script.write_text('#!/bin/sh\ncurl -fsS "$NEW_URL/healthcheck"\n')
    script.chmod(0o755)
    (app / "check.py").write_text("print('ok')\n")

    archive = bundled(
        app,
        tmp_path / "out",
        {
            "before-switch": [{"command": "./ci/smoke-test.sh --fast"}],
            "after-switch": [{"command": ["python3", "check.py"]}, {"command": "true"}],
        },
    )

    info = archive.getinfo("ci/smoke-test.sh")
    assert stat.S_IMODE(info.external_attr >> 16) == 0o755
    assert archive.read("ci/smoke-test.sh") == script.read_bytes()
    assert "check.py" not in archive.namelist()  # an argument, not the program: not guessed


def test_a_script_outside_the_config_folder_or_missing_is_left_out(
    app: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.sh"
    outside.write_text("#!/bin/sh\n")

    archive = bundled(
        app,
        tmp_path / "out",
        {"before-switch": [{"command": "../elsewhere.sh"}, {"command": "./not-there.sh"}]},
    )

    assert not [n for n in archive.namelist() if n.endswith(".sh")]


def test_the_appspec_gives_application_start_and_validate_service_time_for_their_gates(
    app: Path, tmp_path: Path
) -> None:
    archive = bundled(
        app,
        tmp_path / "out",
        {
            "before-switch": [
                {"http": {"timeout": 600}},
                {"command": {"run": "x", "timeout": 300}},
            ],
            "after-switch": [
                {"elb-health": {"timeout": 200}},
                {"alarms": {"names": ["a"], "watch": 900}},
            ],
        },
    )

    hooks = yaml.safe_load(archive.read("appspec.yml"))["hooks"]
    assert hooks["ApplicationStart"][0]["timeout"] == 120 + 900 + 300  # ready + gates + switch
    assert hooks["ValidateService"][0]["timeout"] == 1100 + 120  # gates + a rollback
    assert hooks["BeforeInstall"][0]["timeout"] == 300
