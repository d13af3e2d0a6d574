"""Ask a child process how Ready each color is, so `rollback` never imports the Kubernetes client.

The child (`bluegreen readiness --output json`) runs on the other core while this process
reads the load balancer; importing the client here would add most of a second to "oops".
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from bluegreen_hooks.colors import COLORS, Color
from bluegreen_hooks.errors import DeployFailed

QUIET_SECONDS = 2.0  # an answer slower than this is explained while we wait


@dataclass(frozen=True)
class ColorReadiness:
    ready: int
    desired: int
    complete: bool


@dataclass(frozen=True)
class ClusterReadiness:
    colors: dict[Color, ColorReadiness]
    lock_holder: str | None
    lock_until: str | None


class ReadinessProbe:
    """Started at once; `result()` waits for the child's answer."""

    def __init__(self, config_path: str | None) -> None:
        config = ["--config", config_path] if config_path else []
        self._child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bluegreen_hooks",
                "readiness",
                "--output",
                "json",
                "--log-format",
                "json",
                *config,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self, timeout: float | None = None) -> ClusterReadiness:
        """The child's answer; it may take up to one lease duration to tell whether a deploy
        that holds the lock is still alive."""
        from bluegreen_hooks.lock import lease_seconds

        lease = lease_seconds()
        if timeout is None:
            timeout = 60 + lease
        try:
            out, err = self._answer(timeout, lease)
        except subprocess.TimeoutExpired as exc:
            self._child.kill()
            self._child.communicate()
            raise DeployFailed(
                f"the readiness check did not answer within {timeout:.0f} s"
            ) from exc
        if self._child.returncode != 0:
            raise DeployFailed(f"the readiness check failed: {_last_error(err)}")
        data = json.loads(out)
        lock = data.get("lock") or {}
        return ClusterReadiness(
            colors={color: ColorReadiness(**data[color]) for color in COLORS},
            lock_holder=lock.get("holder"),
            lock_until=lock.get("until"),
        )

    def _answer(self, timeout: float, lease: int) -> tuple[str, str]:
        """The child's output; if it is slow, say why the rollback is waiting."""
        try:
            return self._child.communicate(timeout=min(QUIET_SECONDS, timeout))
        except subprocess.TimeoutExpired:
            if timeout <= QUIET_SECONDS:
                raise
        from bluegreen_hooks.logs import get_logger

        get_logger().info(
            "waiting for the readiness check (a lock left by a dead deploy lapses within "
            f"{lease} s)",
            waiting_at_most=f"{timeout - QUIET_SECONDS:.0f} s",
        )
        return self._child.communicate(timeout=timeout - QUIET_SECONDS)

    def cancel(self) -> None:
        if self._child.poll() is None:
            self._child.kill()
            self._child.communicate()


def _last_error(stderr: str) -> str:
    """The child's failure line (it logs JSON), else its raw last line."""
    for line in reversed(stderr.strip().splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            return line
        if entry.get("level") == "error":
            fix = f" (fix: {entry['fix']})" if entry.get("fix") else ""
            return f"{entry.get('event')}{fix}"
    return stderr.strip()[-300:] or "no output"
