"""`bluegreen bundle` without AWS: contents, modes, RELEASE, determinism, refusals."""

from __future__ import annotations

import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from bluegreen_hooks import cli
from bluegreen_hooks.bundle import HOOKS, default_appspec, default_shim

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "triggers-service"
COMMIT = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
TEMPLATES = (
    ".kubernetes/deploy/triggers-service-controller.yaml.tmpl",
    ".kubernetes/deploy/triggers-service-service.yaml.tmpl",
)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ci = ("TRAVIS_BUILD_WEB_URL", "TRAVIS_BUILD_NUMBER", "BUILD_URL", "BUILD_NUMBER")
    for name in ("SOURCE_DATE_EPOCH", *ci):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "app"
    shutil.copytree(EXAMPLE, folder)
    return folder


def bundle(app: Path, out: Path, *extra: str) -> tuple[int, Path]:
    code = cli.main(
        ["bundle", "--commit", COMMIT, "--out", str(out), "--config", str(app / ".oopsrc"), *extra]
    )
    return code, out / f"triggers-service-{COMMIT}.zip"


def test_bundle_holds_appspec_shims_config_templates_and_release(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, path = bundle(app, tmp_path / "out")

    assert code == 0
    assert capsys.readouterr().out == f"triggers-service/triggers-service-{COMMIT}.zip\n"
    archive = zipfile.ZipFile(path)
    names = archive.namelist()
    assert names == sorted(names)
    assert set(names) == {
        ".oopsrc",
        "RELEASE",
        "appspec.yml",
        *(f"hooks/{shim}" for shim, _ in HOOKS.values()),
        *TEMPLATES,
    }
    assert archive.read(".oopsrc") == (app / ".oopsrc").read_bytes()
    for template in TEMPLATES:
        assert archive.read(template) == (app / template).read_bytes()
    appspec = yaml.safe_load(archive.read("appspec.yml"))
    assert appspec["hooks"]["ApplicationStart"] == [
        {"location": "hooks/application-start", "timeout": 900}
    ]
    assert archive.read("RELEASE").decode().split()[0] == COMMIT


def test_hook_shims_are_executable_and_everything_else_is_not(app: Path, tmp_path: Path) -> None:
    _, path = bundle(app, tmp_path / "out")

    for info in zipfile.ZipFile(path).infolist():
        mode = stat.S_IMODE(info.external_attr >> 16)
        assert mode == (0o755 if info.filename.startswith("hooks/") else 0o644), info.filename
        assert info.create_system == 3


def test_default_appspec_and_shims_are_the_ones_in_the_repository() -> None:
    """The files people copy by hand and the ones `bundle` writes stay the same."""
    assert yaml.safe_load(default_appspec()) == yaml.safe_load((REPO / "appspec.yml").read_text())
    for event, (shim, _) in HOOKS.items():
        assert default_shim(event) == (REPO / "hooks" / shim).read_text()


def test_same_inputs_give_the_same_bytes_whatever_the_file_times(app: Path, tmp_path: Path) -> None:
    _, first = bundle(app, tmp_path / "one")
    for path in app.rglob("*"):
        path.touch()
    (app / "hooks").mkdir()  # an empty folder adds nothing
    _, second = bundle(app, tmp_path / "two")

    assert first.read_bytes() == second.read_bytes()
    assert {i.date_time for i in zipfile.ZipFile(first).infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch_sets_every_entry_time(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z

    _, path = bundle(app, tmp_path / "out")

    times = {i.date_time for i in zipfile.ZipFile(path).infolist()}
    assert times == {(2023, 11, 14, 22, 13, 20)}


def test_changed_content_changes_the_bytes(app: Path, tmp_path: Path) -> None:
    _, first = bundle(app, tmp_path / "one")
    template = app / TEMPLATES[1]
    template.write_text(template.read_text() + "\n# changed\n")

    _, second = bundle(app, tmp_path / "two")

    assert first.read_bytes() != second.read_bytes()


def test_release_records_the_travis_build(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAVIS_BUILD_WEB_URL", "https://travis-ci.com/o/r/builds/42")
    monkeypatch.setenv("TRAVIS_BUILD_NUMBER", "42")

    _, path = bundle(app, tmp_path / "out")

    assert zipfile.ZipFile(path).read("RELEASE").decode() == (
        f"{COMMIT}\nshort-commit: {COMMIT[:7]}\n"
        "build-url: https://travis-ci.com/o/r/builds/42\nbuild-number: 42\n"
    )


def test_the_apps_own_appspec_and_extra_hooks_win(app: Path, tmp_path: Path) -> None:
    (app / "appspec.yml").write_text("version: 0.0\nos: linux\nhooks: {}\n")
    (app / "hooks").mkdir()
    (app / "hooks" / "warm-cache").write_text("#!/bin/sh\n")
    (app / "hooks" / "warm-cache").chmod(0o700)

    _, path = bundle(app, tmp_path / "out")

    archive = zipfile.ZipFile(path)
    assert archive.read("appspec.yml") == b"version: 0.0\nos: linux\nhooks: {}\n"
    info = archive.getinfo("hooks/warm-cache")
    assert stat.S_IMODE(info.external_attr >> 16) == 0o755
    assert "hooks/before-install" in archive.namelist()


def test_a_commit_that_is_not_a_sha_exits_2_and_writes_nothing(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"

    code = cli.main(
        ["bundle", "--commit", "not a sha", "--out", str(out), "--config", str(app / ".oopsrc")]
    )

    assert code == 2
    assert "not usable" in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_template_folder_exits_2_and_writes_nothing(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(app / ".kubernetes")

    code, path = bundle(app, tmp_path / "out")

    assert code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not path.parent.exists()


def test_templates_outside_the_config_folder_are_refused(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.move(app / ".kubernetes", tmp_path / "elsewhere")
    config = (app / ".oopsrc").read_text()
    config = config.replace('"region"', '"templates": "../elsewhere/deploy", "region"')
    (app / ".oopsrc").write_text(config)

    code, path = bundle(app, tmp_path / "out")

    assert code == 2
    assert "outside the config's folder" in capsys.readouterr().err
    assert not path.exists()


def test_a_bad_source_date_epoch_is_a_usage_error(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")

    code, _ = bundle(app, tmp_path / "out")

    assert code == 2
    assert "SOURCE_DATE_EPOCH" in capsys.readouterr().err


def test_upload_without_a_bucket_names_the_key(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = (app / ".oopsrc").read_text().replace('"s3-bucket": "octoblu-deploy",', "")
    (app / ".oopsrc").write_text(config)

    code, path = bundle(app, tmp_path / "out", "--upload")

    assert code == 2
    assert "'s3-bucket'" in capsys.readouterr().err
    assert not path.exists()


def test_zip_is_readable_by_the_standard_library_with_no_directory_entries(
    app: Path, tmp_path: Path
) -> None:
    _, path = bundle(app, tmp_path / "out")

    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    assert archive.testzip() is None
    assert not any(info.is_dir() for info in archive.infolist())


# the example has no `gates`: its default before-switch gate may take 60 s
@pytest.mark.parametrize(("ready_timeout", "expected"), [(120, 900), (1200, 1560), (3500, 3600)])
def test_application_start_outlasts_the_ready_timeout(
    app: Path, tmp_path: Path, ready_timeout: int, expected: int
) -> None:
    config = json.loads((app / ".oopsrc").read_text())
    config["ready-timeout"] = ready_timeout
    (app / ".oopsrc").write_text(json.dumps(config))

    _, path = bundle(app, tmp_path / "out")

    appspec = yaml.safe_load(zipfile.ZipFile(path).read("appspec.yml"))
    assert appspec["hooks"]["ApplicationStart"][0]["timeout"] == expected


def test_an_own_appspec_too_short_for_the_ready_timeout_is_warned_about(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (app / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n"
        "  ApplicationStart:\n    - location: hooks/application-start\n      timeout: 60\n"
    )

    code, _ = bundle(app, tmp_path / "out", "--log-format", "json")

    assert code == 0
    warning = json.loads(capsys.readouterr().err.splitlines()[0])
    assert warning["event"] == "ApplicationStart may be killed before its pods are Ready"
    assert "at least 480" in warning["fix"]  # ready-timeout 120 + the default gate's 60 + 300


def test_a_ready_timeout_past_codedeploys_hour_is_warned_about(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = json.loads((app / ".oopsrc").read_text())
    config["ready-timeout"] = 3500
    (app / ".oopsrc").write_text(json.dumps(config))

    code, _ = bundle(app, tmp_path / "out", "--log-format", "json")

    assert code == 0
    warning = json.loads(capsys.readouterr().err.splitlines()[0])
    assert warning["event"] == "ApplicationStart may be killed before its pods are Ready"
    assert warning["application_start_timeout"] == 3600
    assert "lower ready-timeout to at most 3240" in warning["fix"]  # 3600 - 300 - the gate's 60


def test_a_ready_timeout_that_fits_gives_no_warning(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = bundle(app, tmp_path / "out", "--log-format", "json")

    assert code == 0
    assert "ApplicationStart may be killed" not in capsys.readouterr().err


def test_an_unreadable_own_appspec_exits_2(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (app / "appspec.yml").write_text("hooks: [unclosed\n")

    code, path = bundle(app, tmp_path / "out")

    assert code == 2
    assert "appspec.yml: cannot read its hooks" in capsys.readouterr().err
    assert not path.exists()


def test_a_symlinked_template_is_bundled_under_its_own_name(app: Path, tmp_path: Path) -> None:
    # The seed's per-color names as links to one shared template: each is a file the hooks
    # look up by its own name, so the bundle must hold it under that name.
    deploy = app / ".kubernetes" / "deploy"
    (deploy / "triggers-service-blue-service.yaml.tmpl").symlink_to(
        "triggers-service-service.yaml.tmpl"
    )
    shared = tmp_path / "shared.yaml.tmpl"
    shared.write_text("kind: Service\n")
    (deploy / "triggers-service-green-service.yaml.tmpl").symlink_to(shared)

    code, path = bundle(app, tmp_path / "out")

    assert code == 0
    archive = zipfile.ZipFile(path)
    blue = ".kubernetes/deploy/triggers-service-blue-service.yaml.tmpl"
    green = ".kubernetes/deploy/triggers-service-green-service.yaml.tmpl"
    assert {*TEMPLATES, blue, green} <= set(archive.namelist())
    assert archive.read(blue) == (deploy / "triggers-service-service.yaml.tmpl").read_bytes()
    assert archive.read(green) == shared.read_bytes()


def test_a_symlinked_template_folder_is_bundled_where_the_config_names_it(
    app: Path, tmp_path: Path
) -> None:
    # The hooks look for the templates at the config's 'templates' path in the unpacked bundle.
    deploy = app / ".kubernetes" / "deploy"
    deploy.rename(app / "k8s")
    deploy.symlink_to(app / "k8s")

    code, path = bundle(app, tmp_path / "out")

    assert code == 0
    names = zipfile.ZipFile(path).namelist()
    assert set(TEMPLATES) <= set(names)
    assert not [name for name in names if name.startswith("k8s/")]
