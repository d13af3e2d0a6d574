"""The CodeDeploy revision of an application: a deterministic zip named for its commit.

Contents: `appspec.yml` and the `hooks/` shims (the application's own, else the defaults
below), the config as `.oopsrc`, the template folder, the scripts command gates name, and
`RELEASE` (commit and CI build).
Entries are sorted, with fixed timestamps (`SOURCE_DATE_EPOCH`, else 1980-01-01) and fixed
permissions (0755 for executables, 0644 otherwise): the same inputs give the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import stat
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bluegreen_hooks.config import CONFIG_NAME, MAX_HOOK_TIMEOUT, Config
from bluegreen_hooks.errors import UsageError
from bluegreen_hooks.gates.spec import longest_seconds
from bluegreen_hooks.logs import get_logger
from bluegreen_hooks.plan import check_commit
from bluegreen_hooks.release import RELEASE_FILE

BUNDLE_TYPE = "zip"
APPSPEC = "appspec.yml"
HOOKS_DIR = "hooks"
# event -> (shim name, timeout in seconds); ApplicationStart waits for Ready, so it gets longest.
HOOKS: dict[str, tuple[str, int]] = {
    "BeforeInstall": ("before-install", 300),
    "ApplicationStart": ("application-start", 900),
    "ValidateService": ("validate-service", 300),
}
START_MARGIN = 300  # ApplicationStart: the lock, the workload and the switch, beyond the wait
VALIDATE_MARGIN = 120  # ValidateService: readiness, and a rollback, beyond the after-switch gates
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold
# CI variables recorded in RELEASE, first match wins per field (Travis, then Jenkins-style).
_BUILD_URL_VARS = ("TRAVIS_BUILD_WEB_URL", "BUILD_URL")
_BUILD_NUMBER_VARS = ("TRAVIS_BUILD_NUMBER", "BUILD_NUMBER")


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class Bundle:
    key: str
    commit: str
    data: bytes
    entries: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def bundle_key(application: str, commit: str) -> str:
    """`<application>/<application>-<commit>.zip`, as the seed named releases."""
    return f"{application}/{application}-{commit}.zip"


def build(config: Config, commit: str, environ: Mapping[str, str] = os.environ) -> Bundle:
    """Collect the entries and zip them deterministically."""
    check_commit(commit)
    entries = sorted(collect_entries(config, commit, environ), key=lambda e: e.name)
    return Bundle(
        key=bundle_key(config.application_name, commit),
        commit=commit,
        data=write_zip(entries, source_date_epoch(environ)),
        entries=tuple(e.name for e in entries),
    )


def collect_entries(config: Config, commit: str, environ: Mapping[str, str]) -> list[Entry]:
    root = config.path.parent
    entries = {
        CONFIG_NAME: Entry(CONFIG_NAME, config.path.read_bytes()),
        RELEASE_FILE: Entry(RELEASE_FILE, release_text(commit, environ).encode()),
    }
    for name, path in _files_under(
        config.templates, root, what="template folder ('templates')"
    ).items():
        entries[name] = _entry(name, path)
    own_appspec = root / APPSPEC
    if own_appspec.is_file():
        entries[APPSPEC] = _entry(APPSPEC, own_appspec)
    else:
        appspec = default_appspec(
            config.ready_timeout,
            before_gates=longest_seconds(config.gates.before_switch),
            after_gates=longest_seconds(config.gates.after_switch),
        )
        entries[APPSPEC] = Entry(APPSPEC, appspec.encode())
    # Ours too: CodeDeploy's one-hour cap leaves a ready-timeout over 3300 s no room to switch.
    check_start_timeout(
        entries[APPSPEC].data,
        config.ready_timeout,
        gate_seconds=longest_seconds(config.gates.before_switch),
    )
    for event, (shim, _) in HOOKS.items():
        name = f"{HOOKS_DIR}/{shim}"
        entries[name] = Entry(name, default_shim(event).encode(), executable=True)
    if (root / HOOKS_DIR).is_dir():
        for name, path in _files_under(root / HOOKS_DIR, root, what="hooks folder").items():
            entries[name] = _entry(name, path)
    for name, path in gate_scripts(config).items():
        entries.setdefault(name, _entry(name, path))
    return list(entries.values())


def gate_scripts(config: Config) -> dict[str, Path]:
    """The scripts command gates run (their first word, when it is a relative path to a file
    under the config's folder), so that the hooks find them at the bundle root."""
    import shlex

    from bluegreen_hooks.gates.spec import CommandGate

    root = config.path.parent.resolve()
    found: dict[str, Path] = {}
    for gate in (*config.gates.before_switch, *config.gates.after_switch):
        if not isinstance(gate, CommandGate):
            continue
        try:
            words = shlex.split(gate.run) if isinstance(gate.run, str) else list(gate.run)
        except ValueError:  # unbalanced quotes: the shell will say so when it runs
            continue
        program = words[0] if words else ""
        if "/" not in program or program.startswith("/"):
            continue
        path = (root / program).resolve()
        if path.is_file() and path.is_relative_to(root):
            found[path.relative_to(root).as_posix()] = path
    return found


def _files_under(folder: Path, root: Path, *, what: str) -> dict[str, Path]:
    """The folder's files by their names in the bundle: the path to them from `root`, as the
    config names it (a symlinked folder or file keeps its own name, wherever it points)."""
    if not folder.is_dir():
        raise UsageError(
            f"{what} {folder} does not exist",
            hint="check the config's 'templates' key (relative to the config file)",
        )
    try:
        place = folder.resolve().relative_to(root.resolve())
    except ValueError:
        raise UsageError(
            f"{what} {folder} is outside the config's folder {root}, so it cannot be bundled",
            hint="keep the templates under the folder that holds the config",
        ) from None
    with contextlib.suppress(ValueError):  # else it is named by another way there (a link)
        place = Path(os.path.abspath(folder)).relative_to(os.path.abspath(root))
    files = (p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {PurePosixPath(*place.parts, *p.relative_to(folder).parts).as_posix(): p for p in files}


def _entry(name: str, path: Path) -> Entry:
    executable = bool(path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    return Entry(name, path.read_bytes(), executable)


def release_text(commit: str, environ: Mapping[str, str]) -> str:
    """First word: the commit (what the hooks read); then the short commit and the CI build."""
    lines = [commit, f"short-commit: {commit[:7]}"]
    for field, names in (("build-url", _BUILD_URL_VARS), ("build-number", _BUILD_NUMBER_VARS)):
        value = next((environ[n] for n in names if environ.get(n)), None)
        if value:
            lines.append(f"{field}: {value}")
    return "\n".join(lines) + "\n"


def source_date_epoch(environ: Mapping[str, str]) -> int:
    value = environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return _ZIP_EPOCH
    if not value.strip().isdigit():
        raise UsageError(
            f"SOURCE_DATE_EPOCH is {value!r}, not a number of seconds",
            hint="set it to a Unix time, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
        )
    return max(int(value), _ZIP_EPOCH)


def write_zip(entries: list[Entry], epoch: int) -> bytes:
    """Entries in the given order, each with the same timestamp and a fixed mode."""
    date_time = time.gmtime(epoch)[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=date_time)
            info.create_system = 3  # Unix, so unzip honours the mode below
            mode = 0o755 if entry.executable else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.data, compresslevel=9)
    return buffer.getvalue()


def default_appspec(
    ready_timeout: float = 200.0, *, before_gates: float = 0.0, after_gates: float = 0.0
) -> str:
    """The three hooks; ApplicationStart outlasts `ready-timeout` and the before-switch gates,
    ValidateService the after-switch gates (CodeDeploy allows 3600 s)."""
    lines = [
        "# CodeDeploy application specification, written by `bluegreen bundle`.",
        "# Each hook runs `python3 -m bluegreen_hooks hook <Event>` (see hooks/).",
        "version: 0.0",
        "os: linux",
        "hooks:",
    ]
    for event, (shim, timeout) in HOOKS.items():
        if event == "ApplicationStart":
            needed = math.ceil(ready_timeout + before_gates) + START_MARGIN
            timeout = min(MAX_HOOK_TIMEOUT, max(timeout, needed))
        elif event == "ValidateService":
            needed = math.ceil(after_gates) + VALIDATE_MARGIN
            timeout = min(MAX_HOOK_TIMEOUT, max(timeout, needed))
        lines += [f"  {event}:", f"    - location: {HOOKS_DIR}/{shim}", f"      timeout: {timeout}"]
    return "\n".join(lines) + "\n"


def check_start_timeout(
    appspec_text: bytes, ready_timeout: float, *, gate_seconds: float = 0.0
) -> None:
    """Warn when the agent would kill ApplicationStart before it can wait `ready-timeout` and
    run the before-switch gates (`gate_seconds` at most)."""
    import yaml

    try:
        spec = yaml.safe_load(appspec_text) or {}
        scripts = (spec.get("hooks") or {}).get("ApplicationStart") or []
        total = sum(int(s.get("timeout", MAX_HOOK_TIMEOUT)) for s in scripts)
    except (yaml.YAMLError, AttributeError, TypeError, ValueError) as exc:
        raise UsageError(
            f"{APPSPEC}: cannot read its hooks: {exc}",
            hint="see the appspec.yml of bluegreen-hooks for the expected shape",
        ) from exc
    needed = math.ceil(ready_timeout + gate_seconds) + START_MARGIN
    if scripts and total < needed:
        get_logger().warning(
            "ApplicationStart may be killed before its pods are Ready",
            application_start_timeout=total,
            ready_timeout=ready_timeout,
            before_switch_gates=gate_seconds,
            fix=f"raise the ApplicationStart timeout in {APPSPEC} to at least {needed}"
            if needed <= MAX_HOOK_TIMEOUT
            else f"lower ready-timeout to at most"
            f" {MAX_HOOK_TIMEOUT - START_MARGIN - math.ceil(gate_seconds)}: CodeDeploy stops a"
            f" hook after {MAX_HOOK_TIMEOUT} s and the switch needs {START_MARGIN} more"
            + (f" after the before-switch gates' {gate_seconds:g} s" if gate_seconds else ""),
        )


def default_shim(event: str) -> str:
    return (
        "#!/bin/sh\n"
        f"# CodeDeploy {event} hook: the bundle root is the folder above this script.\n"
        'BLUEGREEN_BUNDLE_ROOT="$(cd "$(dirname "$0")/.." && pwd)"\n'
        "export BLUEGREEN_BUNDLE_ROOT\n"
        'cd "$BLUEGREEN_BUNDLE_ROOT" || exit 2\n'
        f'exec "${{BLUEGREEN_PYTHON:-python3}}" -m bluegreen_hooks hook {event}\n'
    )
