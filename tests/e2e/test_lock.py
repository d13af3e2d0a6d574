"""The deploy lock: renewed while a deploy runs, taken over from a dead deploy, never stolen
back, and `bluegreen unlock` for people. State is read back as the Lease the cluster holds."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

import pytest

from tests.e2e.crash import FAST_LEASE, ready_pods, run_until_killed
from tests.e2e.world import App, dead_lock, kube_api, lease, lease_body, live_lock

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


def deploy(app: App, commit: str) -> str:
    result = app.bluegreen("deploy", "--commit", commit, env=FAST_LEASE)
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.fixture
def pods_ready_after(app: App) -> Iterator[Callable[[float], None]]:
    """Sets the emulator's delay before a new pod is Ready, for this test only."""
    kube = app.sandbox.kube
    before = kube.ready_delay

    def set_delay(seconds: float) -> None:
        kube.ready_delay = seconds

    yield set_delay
    kube.ready_delay = before


def start_deploy(app: App, commit: str, deployment_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bluegreen_hooks",
            "deploy",
            "--commit",
            commit,
            "--deployment-id",
            deployment_id,
            "--config",
            str(app.config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=app.folder,
        env={**os.environ, **FAST_LEASE},
    )


def lease_events(app: App, *, until: Any, timeout: float = 20) -> list[Any]:
    """Leases of the app as they change (list, then watch), until `until(leases seen)`."""
    from kubernetes import watch

    api = kube_api("CoordinationV1Api")
    name = f"{app.name}-bluegreen-lock"
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
    for event in stream.stream(
        api.list_namespaced_lease,
        "default",
        field_selector=f"metadata.name={name}",
        timeout_seconds=math.ceil(timeout),
    ):
        seen.append((event["type"], event["object"]))
        if until(seen) or time.monotonic() > deadline:
            stream.stop()
    return seen


def renewals(seen: list[Any]) -> set[Any]:
    return {obj.spec.renew_time for kind, obj in seen if kind != "DELETED"}


def test_a_running_deploy_renews_its_lease_and_releases_it_when_it_fails(
    app: App, pods_ready_after: Callable[[float], None]
) -> None:
    pods_ready_after(30)  # never, as far as this deploy can tell
    app.settings(**{"ready-timeout": 4})
    before = app.listeners()
    process = start_deploy(app, V1, "d-RENEWS")

    seen = lease_events(app, until=lambda seen: len(renewals(seen)) >= 3)
    _, stderr = process.communicate(timeout=60)

    assert len(renewals(seen)) >= 3, seen  # acquired, then renewed at least twice
    holders = {obj.spec.holder_identity for _, obj in seen}
    assert holders == {f"d-RENEWS@{socket.gethostname()}"}
    assert {obj.spec.lease_duration_seconds for _, obj in seen} == {3}
    assert process.returncode == 1, stderr  # never Ready: the wait timed out
    assert lease(app) is None  # released on failure
    assert app.listeners() == before


def test_a_lease_nobody_renews_is_taken_over_by_the_next_deploy(app: App) -> None:
    dead_lock(app, "d-CRASHED@build-4")

    stderr = deploy(app, V1)

    assert "taking over the lock from a deploy that stopped renewing it" in stderr
    assert "d-CRASHED@build-4" in stderr
    assert {listener["InstancePort"] for listener in app.listeners().values()} == {app.green}
    assert lease(app) is None


@pytest.mark.slow
def test_after_kill_9_during_the_wait_rollback_proceeds_without_force(
    app: App, pods_ready_after: Callable[[float], None]
) -> None:
    deploy(app, V1)  # green live with V1; the deploy of V2 goes to blue and dies waiting
    pods_ready_after(30)
    run_until_killed(
        app,
        "deploy",
        "--commit",
        V2,
        arm=lambda kill: app.sandbox.kube.faults.after(
            "WATCH", f"fieldSelector=metadata.name={app.name}-blue", kill
        ),
    )
    assert lease(app) is not None
    pods_ready_after(0.2)
    _wait_for_ready_pods(app, "blue")

    result = app.bluegreen("rollback", env=FAST_LEASE)

    assert result.returncode == 0, result.stderr
    assert {listener["InstancePort"] for listener in app.listeners().values()} == {app.blue}


def _wait_for_ready_pods(app: App, color: str, timeout: float = 20) -> None:
    """Watch pods until every pod of `color` is Ready (the emulator's controller's pace)."""
    from kubernetes import watch

    selector = f"bluegreen.io/application={app.name},bluegreen.io/color={color}"
    ready, total = ready_pods(app, color)
    if total and ready == total:
        return
    stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
    for _ in stream.stream(
        app.core.list_namespaced_pod,
        "default",
        label_selector=selector,
        timeout_seconds=math.ceil(timeout),
    ):
        ready, total = ready_pods(app, color)
        if total and ready == total:
            stream.stop()
            return
    raise AssertionError(f"{color}: {ready}/{total} pods Ready after {timeout} s")


def test_a_deploy_whose_lock_is_taken_over_stops_before_the_switch(
    app: App, pods_ready_after: Callable[[float], None]
) -> None:
    pods_ready_after(30)
    app.settings(**{"ready-timeout": 30})
    before = app.listeners()
    process = start_deploy(app, V1, "d-SLOW")
    lease_events(app, until=lambda seen: bool(seen))  # it holds the lock now
    take_over(app, "d-THIEF@other")
    pods_ready_after(0.2)  # let the deploy reach its switch

    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 3, stderr
    assert "lost the deploy lock" in stderr and "d-THIEF" in stderr
    assert app.listeners() == before  # traffic untouched
    assert lease(app).spec.holder_identity == "d-THIEF@other"  # not released by the loser


def take_over(app: App, holder: str) -> None:
    """Replace the Lease as another deploy taking it over would (retrying lost races)."""
    from kubernetes.client import ApiException

    api = kube_api("CoordinationV1Api")
    name = f"{app.name}-bluegreen-lock"
    for _ in range(5):
        body = lease_body(app, holder, 600)
        body["metadata"]["resourceVersion"] = api.read_namespaced_lease(
            name, "default"
        ).metadata.resource_version
        try:
            api.replace_namespaced_lease(name, "default", body)
            return
        except ApiException as exc:
            if exc.status != 409:
                raise
    raise AssertionError("could not take the lease over")


def test_unlock_without_a_lock_says_it_is_free(app: App) -> None:
    result = app.bluegreen("unlock")
    assert result.returncode == 0, result.stderr
    assert "is free" in result.stdout


def test_unlock_removes_the_lock_of_a_dead_deploy_and_names_it(app: App) -> None:
    dead_lock(app, "d-DEAD@web-2", seconds=2)

    result = app.bluegreen("unlock")

    assert result.returncode == 0, result.stderr
    assert "deploy d-DEAD on host web-2, which stopped renewing it" in result.stdout
    assert lease(app) is None


def test_unlock_refuses_a_live_lock_and_force_removes_it(app: App) -> None:
    with live_lock(app, "d-LIVE@web-3"):
        refused = app.bluegreen("unlock")
        assert refused.returncode == 3, refused.stderr
        assert "deploy d-LIVE on host web-3 holds the lock" in refused.stderr
        assert "--force" in refused.stderr
        assert lease(app).spec.holder_identity == "d-LIVE@web-3"

        forced = app.bluegreen("unlock", "--force")

        assert forced.returncode == 0, forced.stderr
        assert "d-LIVE on host web-3, which may still be running" in forced.stdout
        assert lease(app) is None


def test_readiness_reports_only_a_live_holder(app: App) -> None:
    dead_lock(app, "d-GONE@web-5", seconds=2)
    dead = app.bluegreen("readiness", "--output", "json")
    assert dead.returncode == 0, dead.stderr
    assert json.loads(dead.stdout)["lock"] is None

    kube_api("CoordinationV1Api").delete_namespaced_lease(f"{app.name}-bluegreen-lock", "default")
    with live_lock(app, "d-HERE@web-6"):
        live = app.bluegreen("readiness", "--output", "json")
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout)["lock"]["holder"] == "d-HERE@web-6"


@pytest.mark.parametrize("value", ["soon", "0", "100000"])
def test_a_bad_lease_duration_is_a_usage_error(app: App, value: str) -> None:
    before = app.snapshot()
    result = app.bluegreen("deploy", "--commit", V1, env={"BLUEGREEN_LEASE_SECONDS": value})
    assert result.returncode == 2, result.stderr
    assert "BLUEGREEN_LEASE_SECONDS" in result.stderr
    assert app.snapshot() == before


def test_a_deploy_whose_lock_is_removed_by_force_stops_before_the_switch(
    app: App, pods_ready_after: Callable[[float], None]
) -> None:
    pods_ready_after(30)
    app.settings(**{"ready-timeout": 30})
    before = app.listeners()
    process = start_deploy(app, V1, "d-FORCED")
    lease_events(app, until=lambda seen: bool(seen))  # it holds the lock now

    forced = app.bluegreen("unlock", "--force")
    pods_ready_after(0.2)  # let the deploy reach its switch
    _, stderr = process.communicate(timeout=60)

    assert forced.returncode == 0, forced.stderr
    assert "deploy d-FORCED on host" in forced.stdout
    assert process.returncode == 1, stderr
    assert "lost the deploy lock" in stderr and "it was removed" in stderr
    assert app.listeners() == before
    assert lease(app) is None


def test_of_two_deploys_started_together_one_runs_and_the_other_exits_3(
    app: App, pods_ready_after: Callable[[float], None]
) -> None:
    pods_ready_after(30)  # the winner waits for pods while the loser looks at the lock
    before = app.listeners()
    processes = [start_deploy(app, V1, "d-FIRST"), start_deploy(app, V1, "d-SECOND")]
    with ThreadPoolExecutor(2) as pool:
        outcomes = {pool.submit(p.communicate, timeout=60): p for p in processes}
        done, _ = wait(outcomes, return_when=FIRST_COMPLETED)
        loser = outcomes[next(iter(done))]
        assert app.listeners() == before
        pods_ready_after(0.2)
    winner = next(p for p in processes if p is not loser)
    loser_log = next(f.result()[1] for f, p in outcomes.items() if p is loser)
    winner_log = next(f.result()[1] for f, p in outcomes.items() if p is winner)

    assert loser.returncode == 3, loser_log
    assert "holds the lock" in loser_log and "is renewing it" in loser_log
    assert winner.returncode == 0, winner_log
    assert {listener["InstancePort"] for listener in app.listeners().values()} == {app.green}
    assert lease(app) is None
