"""`bluegreen readiness`: Ready replicas of each color, and which live deploy holds the lock.

A Lease whose holder stopped renewing it is not reported (that deploy died); telling the
two apart can take up to one lease duration.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bluegreen_hooks.colors import COLORS
from bluegreen_hooks.commands.common import config_from


def run(args: argparse.Namespace) -> int:
    from bluegreen_hooks.kube import Cluster, connect

    config = config_from(args)
    cluster = Cluster(connect(), config.namespace)
    report = readiness_report(cluster, config.application_name)
    if args.output == "json":
        print(json.dumps(report))
        return 0
    for color in COLORS:
        entry = report[color]
        state = "" if entry["complete"] else "  (not fully Ready)"
        print(f"{color:<6} {entry['ready']}/{entry['desired']} ready{state}")
    lock = report["lock"]
    print(f"lock   {'held by ' + lock['holder'] + ' until ' + lock['until'] if lock else 'free'}")
    return 0


def readiness_report(cluster: Any, application: str) -> dict[str, Any]:
    # The lock first: telling a dead holder from a live one can take a while, and readiness
    # read afterwards is the fresher for it.
    holder = cluster.lock(application).live_holder()
    report: dict[str, Any] = {}
    for color, state in cluster.readiness_by_color(application).items():
        report[color] = {"ready": state.ready, "desired": state.desired, "complete": state.complete}
    report["lock"] = (
        {
            "holder": holder.holder,
            "until": holder.expires.isoformat(timespec="seconds"),
        }
        if holder
        else None
    )
    return report
