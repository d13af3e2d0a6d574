"""Which releases an unknown commit is nearest to: longest shared prefix, then newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bluegreen_hooks.releases import Release, nearest_releases

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def release(commit: str, age_minutes: int) -> Release:
    return Release(
        commit=commit,
        key=f"app/app-{commit}.zip",
        size=1,
        modified=NOW - timedelta(minutes=age_minutes),
        etag="e",
    )


def test_longest_shared_prefix_first_then_newest_at_most_five() -> None:
    releases = [
        release("abc0000", 1),
        release("abd0000", 2),
        release("ab00000", 0),
        release("fff0000", 3),
        release("abc1000", 9),
        release("eee0000", 4),
        release("ddd0000", 5),
    ]

    nearest = nearest_releases(releases, "abc1")

    assert [r.commit for r in nearest] == ["abc1000", "abc0000", "ab00000", "abd0000", "fff0000"]
