"""Run `python -m MODULE ...` as a separate process, without paying for its imports each time.

Most of a CLI run's CPU goes to importing boto3 and the Kubernetes client; the suite runs the
CLI hundreds of times on two cores. `run` asks a zygote (tests/zygote.py) that imported them
once to fork the run, which then is a process of its own: its own pid, working folder,
environment, standard streams and exit code, killed on timeout like `subprocess.run`'s.
What a fresh interpreter does differently (reading the environment at import time, e.g.
KUBECONFIG's default in the Kubernetes client) is the zygote's plain environment's, so a
test of start-up itself (imports, `-X importtime`) runs the interpreter directly.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
# Read by libraries when imported; a run's own value must not be replaced by the zygote's.
_READ_AT_IMPORT = ("KUBECONFIG", "NO_COLOR", "FORCE_COLOR")


class Zygote:
    """One per test process, started on first use and stopped when the process ends."""

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="bluegreen-zygote-"))
        self.socket_path = str(self._folder / "socket")
        environment = {k: v for k, v in os.environ.items() if k not in _READ_AT_IMPORT}
        self._process = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "zygote.py"), self.socket_path],
            stdin=subprocess.PIPE,  # closed when this process ends: the zygote ends too
            stdout=subprocess.PIPE,
            env=environment,
            cwd=REPO,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError("the CLI zygote did not start (tests/zygote.py)")

    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self._process.kill()
        self._process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)

    def run(
        self,
        module: str,
        argv: Sequence[str],
        *,
        cwd: Path | str,
        env: Mapping[str, str],
        timeout: float,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", module, *argv]
        header = {"module": module, "argv": list(argv), "cwd": str(cwd), "env": dict(env)}
        with (
            tempfile.TemporaryFile() as stdin,
            tempfile.TemporaryFile() as stdout,
            tempfile.TemporaryFile() as stderr,
        ):
            if input is not None:
                stdin.write(input.encode())
                stdin.seek(0)
            status = self._start_and_wait(header, (stdin, stdout, stderr), timeout)
            out, err = _text(stdout), _text(stderr)
        if status is None:
            raise subprocess.TimeoutExpired(command, timeout, output=out, stderr=err)
        return subprocess.CompletedProcess(command, os.waitstatus_to_exitcode(status), out, err)

    def _start_and_wait(
        self,
        header: dict[str, Any],
        streams: tuple[IO[bytes], IO[bytes], IO[bytes]],
        timeout: float,
    ) -> int | None:
        """The run's wait status, or None when it was killed for running past `timeout`."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(self.socket_path)
            message = json.dumps(header).encode() + b"\n"
            socket.send_fds(connection, [message], [s.fileno() for s in streams])
            replies = _Lines(connection)
            pid = int(replies.next()["pid"])
            connection.settimeout(timeout)
            try:
                return int(replies.next()["status"])
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                connection.settimeout(None)
                replies.next()
                return None


class _Lines:
    """JSON lines read from a socket, which may time out between reads."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._buffer = b""

    def next(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            chunk = self._connection.recv(4096)
            if not chunk:
                raise RuntimeError("the CLI zygote closed the connection (tests/zygote.py)")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        found: dict[str, Any] = json.loads(line)
        return found


def _text(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode().replace("\r\n", "\n")


_zygote: list[Zygote] = []
_starting = threading.Lock()


def zygote() -> Zygote:
    with _starting:
        if not _zygote or not _zygote[0].alive():
            _zygote[:] = [Zygote()]
            atexit.register(_zygote[0].stop)
        return _zygote[0]


def run(
    module: str,
    *argv: str,
    cwd: Path | str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m module *argv` in `cwd` with `env` (default: this process's), like
    `subprocess.run(..., capture_output=True, text=True, timeout=timeout)`."""
    environment = dict(os.environ if env is None else env)
    return zygote().run(module, argv, cwd=cwd, env=environment, timeout=timeout, input=input)
