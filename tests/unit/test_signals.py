"""bluegreen_hooks.signals, with real signals sent to this process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from bluegreen_hooks import signals
from bluegreen_hooks.errors import INTERRUPTED, TERMINATED, Interrupted, Terminated


@pytest.fixture(autouse=True)
def installed() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signals.install()
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_outside_a_switch_a_signal_stops_at_once_saying_what_it_leaves() -> None:
    signals.note("traffic untouched on blue")

    with pytest.raises(Terminated) as stopped:
        os.kill(os.getpid(), signal.SIGTERM)

    assert stopped.value.exit_code == TERMINATED == 143
    assert stopped.value.message == "stopped by SIGTERM: traffic untouched on blue"


def test_inside_a_switch_a_signal_waits_for_the_next_safe_point() -> None:
    moved = []
    with pytest.raises(Interrupted) as stopped, signals.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        moved.append(80)  # the listener being moved is finished
        signals.stop_here(lambda: f"listeners {moved} on green", "rerun")
        moved.append(443)

    assert moved == [80]
    assert type(stopped.value) is Interrupted
    assert stopped.value.exit_code == INTERRUPTED == 130
    assert stopped.value.message == "stopped by SIGINT: listeners [80] on green"
    assert stopped.value.hint == "rerun"


def test_no_signal_no_stop() -> None:
    with signals.deferred():
        signals.stop_here(lambda: "unused")


def test_interrupted_is_not_an_exception_a_step_could_swallow() -> None:
    assert not issubclass(Interrupted, Exception)
