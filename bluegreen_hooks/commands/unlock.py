"""`bluegreen unlock [--force]`: remove the deploy lock a dead deploy left (or, forced, any)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bluegreen_hooks.errors import LockHeld

if TYPE_CHECKING:
    from bluegreen_hooks.lock import LeaseState, Lock


def run(args: argparse.Namespace) -> int:
    from bluegreen_hooks.commands.common import config_from
    from bluegreen_hooks.kube import Cluster, connect

    config = config_from(args)
    lock = Cluster(connect(), config.namespace).lock(config.application_name)
    where = f"{lock.namespace}/{lock.name}"
    for _ in range(3):  # the Lease may change between reading and deleting it
        state = lock.read()
        if state is None:
            lock.rest.delete(lock.path)  # a Lease nobody holds, if any
            print(f"lock {where} is free")
            return 0
        if not args.force:
            state = _dead_holder(lock, state, where)
        if lock.remove(state):
            print(_removed(where, state, args.force))
            return 0
    raise LockHeld(f"the lock {where} keeps changing; another deploy is taking it")


def _dead_holder(lock: Lock, state: LeaseState, where: str) -> LeaseState:
    """The Lease as its dead holder left it; LockHeld if the holder still renews it."""
    from bluegreen_hooks.lock import describe_holder

    if lock.live_holder() is not None:
        raise LockHeld(
            f"{describe_holder(state.holder)} holds the lock {where} and is still renewing it",
            hint="wait for it to finish; `bluegreen unlock --force` removes the lock anyway "
            "(that deploy then stops before switching traffic)",
        )
    return lock.read() or state


def _removed(where: str, state: LeaseState, forced: bool) -> str:
    from bluegreen_hooks.lock import describe_holder

    holder = describe_holder(state.holder)
    renewed = state.renewed.isoformat(timespec="seconds")
    if forced and not state.expired():
        return (
            f"removed the lock {where} of {holder}, which may still be running (renewed at "
            f"{renewed}); if it is, it stops before switching traffic"
        )
    return f"removed the lock {where} of {holder}, which stopped renewing it at {renewed}"
