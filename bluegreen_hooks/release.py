"""Which commit a run deploys: --commit, the bundle's RELEASE file, BUNDLE_COMMIT, or BUNDLE_KEY."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from bluegreen_hooks.errors import UsageError

RELEASE_FILE = "RELEASE"
_ARCHIVE = re.compile(r"\.(zip|tar|tgz|tar\.gz)$")


def resolve_commit(
    explicit: str | None,
    *,
    bundle_root: Path | None,
    application: str,
    environ: Mapping[str, str] = os.environ,
) -> str:
    """The first source that names a commit, in the documented order."""
    if explicit:
        return explicit
    if bundle_root is not None:
        release = bundle_root / RELEASE_FILE
        if release.is_file():
            lines = release.read_text(encoding="utf-8").split()
            if lines:
                return lines[0]
    if environ.get("BUNDLE_COMMIT"):
        return environ["BUNDLE_COMMIT"]
    if environ.get("BUNDLE_KEY"):
        return commit_from_key(environ["BUNDLE_KEY"], application)
    raise UsageError(
        "no commit to deploy",
        hint=(
            f"pass --commit SHA, put the SHA in {RELEASE_FILE} at the bundle root, "
            f"or upload the bundle as <app>/{application}-<commit>.zip"
        ),
    )


def commit_from_key(key: str, application: str) -> str:
    """`triggers-service/triggers-service-0a1b2c3.zip` -> `0a1b2c3`."""
    stem = _ARCHIVE.sub("", key.rsplit("/", 1)[-1])
    prefix = f"{application}-"
    if stem == application or stem.startswith(prefix):
        commit = stem[len(prefix) :]
    else:
        head, _, tail = stem.rpartition("-")
        commit = tail if head else ""
    if commit:
        return commit
    raise UsageError(
        f"cannot read a commit from BUNDLE_KEY {key!r}",
        hint=f"name bundles <app>/{application}-<commit>.zip or pass --commit",
    )
