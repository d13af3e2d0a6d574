"""Releases in S3: publish a bundle, list the published ones, find one by commit prefix."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen_hooks.bundle import Bundle, bundle_key
from bluegreen_hooks.config import short_repr
from bluegreen_hooks.errors import ConfigError, UsageError
from bluegreen_hooks.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHA256_METADATA = "sha256"  # x-amz-meta-sha256: the bundle's content hash
MIN_PREFIX = 4  # as git: shorter abbreviations are refused
MAX_COMMIT = 63  # a commit is a label value (plan.check_commit): no longer prefix can match
NEAREST = 5  # releases listed when a commit is unknown
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Release:
    """A published bundle: its commit, S3 key, size, time and ETag."""

    commit: str
    key: str
    size: int
    modified: datetime
    etag: str

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "short_commit": self.commit[:7],
            "key": self.key,
            "size": self.size,
            "time": self.modified.isoformat(),
            "etag": self.etag,
        }


# --- publish ------------------------------------------------------------------------


def publish(client: S3Client, bucket: str, bundle: Bundle) -> bool:
    """Upload unless the same content is already under the key; returns whether it uploaded."""
    log = get_logger()
    existing = _head(client, bucket, bundle.key)
    if existing is not None and _same_content(existing, bundle):
        log.info(
            "bundle already published with the same content; upload skipped",
            bucket=bucket,
            key=bundle.key,
        )
        return False
    if existing is not None:
        log.warning("replacing a different bundle under this key", bucket=bucket, key=bundle.key)
    try:
        client.put_object(
            Bucket=bucket,
            Key=bundle.key,
            Body=bundle.data,
            ContentType="application/zip",
            ContentMD5=base64.b64encode(bytes.fromhex(bundle.md5)).decode(),
            Metadata={SHA256_METADATA: bundle.sha256},
        )
    except client.exceptions.NoSuchBucket:
        raise _no_bucket(bucket) from None
    log.info("bundle uploaded", bucket=bucket, key=bundle.key, bytes=len(bundle.data))
    return True


def _head(client: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return dict(client.head_object(Bucket=bucket, Key=key))
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _same_content(head: dict[str, Any], bundle: Bundle) -> bool:
    """By the content hash we store; else by the ETag (an MD5 for single-part uploads)."""
    stored = (head.get("Metadata") or {}).get(SHA256_METADATA)
    if stored:
        return bool(stored == bundle.sha256)
    return bool(str(head.get("ETag", "")).strip('"') == bundle.md5)


# --- list and find ---------------------------------------------------------------------


def list_releases(client: S3Client, bucket: str, application: str) -> list[Release]:
    """Every `<app>/<app>-<commit>.zip` in the bucket, newest first."""
    return _sorted(_listed(client, bucket, application, commit_prefix=""))


def _listed(
    client: S3Client, bucket: str, application: str, *, commit_prefix: str
) -> list[Release]:
    prefix = bundle_key(application, commit_prefix).removesuffix(".zip")
    found: list[Release] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                release = _release(item, application)
                if release is not None:
                    found.append(release)
    except client.exceptions.NoSuchBucket:
        raise _no_bucket(bucket) from None
    return found


def _no_bucket(bucket: str) -> ConfigError:
    return ConfigError(
        f"S3 bucket {bucket!r} (config key 's3-bucket') does not exist",
        hint="check s3-bucket and the region, or create the bucket",
    )


def _release(item: Any, application: str) -> Release | None:
    """The release an object is, if its key is `<app>/<app>-<commit>.zip`."""
    key = str(item["Key"])
    commit = key.removeprefix(f"{application}/{application}-").removesuffix(".zip")
    if not commit or "/" in commit or key != bundle_key(application, commit):
        return None
    return Release(
        commit=commit,
        key=key,
        size=int(item.get("Size", 0)),
        modified=item["LastModified"],
        etag=str(item.get("ETag", "")).strip('"'),
    )


def _sorted(releases: list[Release]) -> list[Release]:
    return sorted(releases, key=lambda r: (r.modified, r.key), reverse=True)


def find_release(client: S3Client, bucket: str, application: str, commit: str) -> Release:
    """The release whose commit is `commit` or the one starting with it; else exit 2."""
    if not _PREFIX.fullmatch(commit) or not MIN_PREFIX <= len(commit) <= MAX_COMMIT:
        raise UsageError(
            f"{short_repr(commit)} is not a commit or a prefix of one (letters, digits, '.',"
            f" '_', '-', at least {MIN_PREFIX}, at most {MAX_COMMIT})",
            hint="pass the SHA of a published release; `oops list` shows them",
        )
    matches = _sorted(_listed(client, bucket, application, commit_prefix=commit))
    exact = [r for r in matches if r.commit == commit]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    where = f"s3://{bucket}/{application}/"
    if matches:
        raise UsageError(
            f"{commit!r} is ambiguous: {len(matches)} releases in {where} start with it:\n"
            + _describe(matches[:NEAREST]),
            hint="give more of the SHA",
        )
    nearest = nearest_releases(list_releases(client, bucket, application), commit)
    raise UsageError(
        f"no release {commit!r} in {where}"
        + (":\nnearest releases:\n" + _describe(nearest) if nearest else " (it has no releases)"),
        hint="publish it first with `bluegreen bundle --commit SHA --upload`, or pick one above",
    )


def nearest_releases(releases: list[Release], commit: str) -> list[Release]:
    """Longest shared prefix first, then newest."""

    def shared(release: Release) -> int:
        n = 0
        for a, b in zip(release.commit, commit, strict=False):
            if a != b:
                break
            n += 1
        return n

    ranked = sorted(releases, key=lambda r: (-shared(r), -r.modified.timestamp(), r.key))
    return ranked[:NEAREST]


def _describe(releases: list[Release]) -> str:
    return "\n".join(
        f"  {r.commit}  {r.modified:%Y-%m-%d %H:%M:%S}  {r.size} bytes" for r in releases
    )
