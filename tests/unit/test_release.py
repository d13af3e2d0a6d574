"""bluegreen_hooks.release: which commit a CodeDeploy run deploys."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_hooks.errors import UsageError
from bluegreen_hooks.release import RELEASE_FILE, commit_from_key, resolve_commit

APP = "triggers-service"
KEY = "triggers-service/triggers-service-0a1b2c3.zip"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A bundle root whose RELEASE file names commit 'fromfile'."""
    (tmp_path / RELEASE_FILE).write_text("fromfile\n", encoding="utf-8")
    return tmp_path


# --- resolve_commit: the documented order --------------------------------------------------------


def test_explicit_commit_wins_over_every_other_source(bundle: Path) -> None:
    environ = {"BUNDLE_COMMIT": "fromenv", "BUNDLE_KEY": KEY}

    commit = resolve_commit("explicit", bundle_root=bundle, application=APP, environ=environ)

    assert commit == "explicit"


def test_release_file_comes_before_bundle_commit_and_key(bundle: Path) -> None:
    environ = {"BUNDLE_COMMIT": "fromenv", "BUNDLE_KEY": KEY}

    assert resolve_commit(None, bundle_root=bundle, application=APP, environ=environ) == "fromfile"


def test_bundle_commit_comes_before_bundle_key(tmp_path: Path) -> None:
    environ = {"BUNDLE_COMMIT": "fromenv", "BUNDLE_KEY": KEY}

    assert resolve_commit(None, bundle_root=tmp_path, application=APP, environ=environ) == "fromenv"


def test_bundle_key_is_the_last_resort(tmp_path: Path) -> None:
    environ = {"BUNDLE_KEY": KEY}

    assert resolve_commit(None, bundle_root=tmp_path, application=APP, environ=environ) == "0a1b2c3"


def test_empty_explicit_commit_counts_as_not_given(bundle: Path) -> None:
    assert resolve_commit("", bundle_root=bundle, application=APP, environ={}) == "fromfile"


@pytest.mark.parametrize("empty", ["", "\n", "   \n\n"])
def test_an_empty_release_file_is_skipped(tmp_path: Path, empty: str) -> None:
    (tmp_path / RELEASE_FILE).write_text(empty, encoding="utf-8")

    commit = resolve_commit(
        None, bundle_root=tmp_path, application=APP, environ={"BUNDLE_COMMIT": "fromenv"}
    )

    assert commit == "fromenv"


@pytest.mark.parametrize(
    "content", ["abc123", "abc123\n", "  abc123  \n", "abc123\nbuilt by travis #42\n"]
)
def test_release_file_gives_its_first_word(tmp_path: Path, content: str) -> None:
    (tmp_path / RELEASE_FILE).write_text(content, encoding="utf-8")

    assert resolve_commit(None, bundle_root=tmp_path, application=APP, environ={}) == "abc123"


def test_release_file_is_only_read_from_the_bundle_root(tmp_path: Path) -> None:
    nested = tmp_path / "sub"
    nested.mkdir()
    (nested / RELEASE_FILE).write_text("nested\n", encoding="utf-8")

    commit = resolve_commit(
        None, bundle_root=tmp_path, application=APP, environ={"BUNDLE_COMMIT": "fromenv"}
    )

    assert commit == "fromenv"


def test_without_a_bundle_root_the_environment_decides() -> None:
    environ = {"BUNDLE_COMMIT": "fromenv"}

    assert resolve_commit(None, bundle_root=None, application=APP, environ=environ) == "fromenv"


def test_empty_environment_values_are_skipped() -> None:
    environ = {"BUNDLE_COMMIT": "", "BUNDLE_KEY": KEY}

    assert resolve_commit(None, bundle_root=None, application=APP, environ=environ) == "0a1b2c3"


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUNDLE_COMMIT", "fromprocess")

    assert resolve_commit(None, bundle_root=None, application=APP) == "fromprocess"


def test_nothing_naming_a_commit_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as exc:
        resolve_commit(None, bundle_root=tmp_path, application=APP, environ={})

    assert exc.value.message == "no commit to deploy"
    assert exc.value.exit_code == 2
    assert exc.value.hint is not None
    assert "--commit" in exc.value.hint
    assert RELEASE_FILE in exc.value.hint
    assert f"{APP}-<commit>.zip" in exc.value.hint


# --- commit_from_key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "commit"),
    [
        (KEY, "0a1b2c3"),
        (
            "triggers-service/triggers-service-0a1b2c3d4e5f60718293a4b5c6d7e8f901234567.zip",
            "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
        ),
        ("triggers-service/triggers-service-0a1b2c3.tar", "0a1b2c3"),
        ("triggers-service/triggers-service-0a1b2c3.tgz", "0a1b2c3"),
        ("triggers-service/triggers-service-0a1b2c3.tar.gz", "0a1b2c3"),
        ("triggers-service-0a1b2c3.zip", "0a1b2c3"),
        ("builds/2024/triggers-service/triggers-service-0a1b2c3.zip", "0a1b2c3"),
        ("triggers-service/triggers-service-v1.2-rc1.zip", "v1.2-rc1"),
        ("triggers-service/triggers-service-0a1b2c3", "0a1b2c3"),
    ],
)
def test_commit_from_key_reads_the_commit_after_the_application_name(key: str, commit: str) -> None:
    assert commit_from_key(key, APP) == commit


def test_commit_from_key_of_another_naming_takes_the_last_dash_part() -> None:
    assert commit_from_key("bundles/old-name-0a1b2c3.zip", APP) == "0a1b2c3"


@pytest.mark.parametrize(
    "key",
    [
        "triggers-service/0a1b2c3.zip",
        "triggers-service/bundle.zip",
        "-0a1b2c3.zip",
        "triggers-service/",
        "triggers-service/triggers-service.zip",
        "triggers-service/triggers-service-.zip",
    ],
)
def test_commit_from_key_without_a_commit_is_a_usage_error(key: str) -> None:
    with pytest.raises(UsageError) as exc:
        commit_from_key(key, APP)

    assert exc.value.message == f"cannot read a commit from BUNDLE_KEY {key!r}"
    assert exc.value.hint is not None and f"{APP}-<commit>.zip" in exc.value.hint
