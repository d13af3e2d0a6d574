"""A CLI run in the background, to signal or kill it at a chosen moment."""

from __future__ import annotations

import contextlib
import io
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from bluegreen_hooks import cli
from tests.e2e.world import App


@dataclass
class Background:
    """`bluegreen ...` running as a child process; its stderr lines are collected as they come."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Block until a stderr line contains `text` (fails on timeout or exit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"no line with {text!r}; stderr so far:\n{''.join(self.seen)}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """The exit code and the whole stderr."""
        code = self.proc.wait(timeout=timeout)
        assert self.reader is not None
        self.reader.join(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, "".join(self.seen)


def start(app: App, *argv: str, env: dict[str, str] | None = None) -> Background:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bluegreen_hooks", *argv, "--config", str(app.config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=app.folder,
        env={**os.environ, **(env or {})},
    )
    return Background(proc)


def status(app: App) -> tuple[int, str, str]:
    """`bluegreen status --output json` in this process (no interpreter start-up):
    exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli.main(
            ["status", "--output", "json", "--config", str(app.config), "--log-format", "json"]
        )
    return code, out.getvalue(), err.getvalue()
