"""`command` gates: a program run from the bundle root (or the config's folder) that passes on
exit 0. Its output goes into the log line by line; a timeout kills its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque

from bluegreen_hooks import logs
from bluegreen_hooks.gates.context import GateContext
from bluegreen_hooks.gates.report import GateResult
from bluegreen_hooks.gates.spec import CommandGate

TAIL_LINES = 10  # output lines a failure message shows
MAX_LINE = 500
KILL_GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check(gate: CommandGate, ctx: GateContext) -> GateResult:
    started = time.monotonic()
    argv = ["/bin/sh", "-c", gate.run] if isinstance(gate.run, str) else list(gate.run)
    env = {**os.environ, **ctx.command_env()}
    log = logs.get_logger()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=ctx.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout kills it all
        )
    except OSError as exc:
        return GateResult(
            gate.describe(),
            gate.kind,
            False,
            f"cannot run {argv[0]} in {ctx.workdir}: {exc.strerror or exc}",
        )
    log.info("gate command started", gate=gate.describe(), pid=proc.pid, cwd=str(ctx.workdir))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    reader = threading.Thread(target=_relay, args=(proc, gate, tail), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=gate.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        reader.join(KILL_GRACE_SECONDS)
        return GateResult(
            gate.describe(),
            gate.kind,
            False,
            f"killed after {gate.timeout:g} s without finishing",
            output=tuple(tail),
            seconds=time.monotonic() - started,
        )
    finally:
        if proc.poll() is None:  # interrupted (SIGINT/SIGTERM): leave nothing running
            _kill_group(proc, grace=0)
    reader.join(KILL_GRACE_SECONDS)
    seconds = time.monotonic() - started
    if code == 0:
        return GateResult(
            gate.describe(), gate.kind, True, f"exit 0 after {seconds:.1f} s", seconds=seconds
        )
    how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    return GateResult(
        gate.describe(),
        gate.kind,
        False,
        f"{how} after {seconds:.1f} s",
        output=tuple(tail),
        seconds=seconds,
    )


def _relay(proc: subprocess.Popen[bytes], gate: CommandGate, tail: deque[str]) -> None:
    """Each output line into the log (and the tail the failure message shows)."""
    assert proc.stdout is not None
    log = logs.get_logger()
    for raw in proc.stdout:
        line = _CONTROL.sub("?", raw.decode("utf-8", "replace").rstrip("\r\n"))[:MAX_LINE]
        tail.append(line)
        log.info("gate output", gate=gate.describe(), line=line)
    proc.stdout.close()


def _kill_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM to the command's process group, then SIGKILL to whatever is left of it."""
    if grace:
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
