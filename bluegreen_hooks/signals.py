"""SIGINT and SIGTERM: stop at once, except while a listener is being moved.

Outside a switch a signal raises `Interrupted` (130) or `Terminated` (143) where the program
is, e.g. in the readiness wait, so the run stops with traffic untouched. Inside `deferred()`
(the switch) it is only noted; the switch calls `stop_here()` between listeners, so no
listener is ever left between its delete and its create.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from bluegreen_hooks.errors import Interrupted, Terminated

_pending: list[int] = []
_deferring = [0]
_situation: list[str] = []


def install() -> None:
    """Handle SIGINT and SIGTERM in this (main) thread from now on."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _handle)


def note(situation: str) -> None:
    """What a stop now would leave behind (e.g. "traffic untouched on blue")."""
    _situation[:] = [situation]


def _handle(signum: int, _frame: FrameType | None) -> None:
    if _deferring[0]:
        _pending[:] = [signum]
        return
    raise stopped(signum, _situation[0] if _situation else None)


def stopped(signum: int, situation: str | None, hint: str | None = None) -> Interrupted:
    kind = Terminated if signum == signal.SIGTERM else Interrupted
    name = signal.Signals(signum).name
    return kind(f"stopped by {name}" + (f": {situation}" if situation else ""), hint=hint)


@contextmanager
def deferred() -> Iterator[None]:
    """Within this block, a signal waits for the next `stop_here()`."""
    _deferring[0] += 1
    try:
        yield
    finally:
        _deferring[0] -= 1


def stop_here(situation: Callable[[], str], hint: str | None = None) -> None:
    """If a signal came, stop now, saying what state things are in."""
    if _pending:
        signum = _pending.pop()
        raise stopped(signum, situation(), hint)
