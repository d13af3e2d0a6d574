"""Deploys whose watches the API server cuts, times out and expires (410 Gone) while they wait:
each deploy resumes or reads again and succeeds, and only a watch that can never stay open
fails the deploy, with a clear message and traffic untouched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.crash import assert_converged
from tests.e2e.world import App, dead_lock, kube_api, lease, live_lock

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


@pytest.fixture
def kube(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox; its watch settings, history and faults restored after the test."""
    emulator = sandbox.kube
    saved = (
        emulator.ready_delay,
        emulator.max_watch_seconds,
        emulator.bookmark_seconds,
        emulator.history_seconds,
    )
    yield sandbox
    emulator.faults.clear()
    (
        emulator.ready_delay,
        emulator.max_watch_seconds,
        emulator.bookmark_seconds,
        emulator.history_seconds,
    ) = saved


def watches(sandbox: Sandbox) -> int:
    return sandbox.kube.requests_by_verb.get("WATCH", 0)


def test_a_deploy_survives_watches_cut_again_and_again(kube: Sandbox, app: App) -> None:
    emulator = kube.kube
    emulator.ready_delay = 1.0  # the wait outlives many cuts
    emulator.bookmark_seconds = 0.1  # so each watch sees a bookmark before it is cut
    emulator.faults.cut_watches(after_events=1, after_seconds=0.3)
    cuts_before = emulator.faults.injected["watch cut"]

    first = app.bluegreen("deploy", "--commit", V1)
    second = app.bluegreen("deploy", "--commit", V2)
    emulator.faults.clear()

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert_converged(app, "blue", V2)
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V1}
    assert emulator.faults.injected["watch cut"] - cuts_before >= 4
    logs = first.stderr + second.stderr
    assert "watch connection dropped; resuming" in logs
    assert "Traceback" not in logs
    assert "ProtocolError" not in logs


def test_a_deploy_outlasts_watches_the_server_times_out(kube: Sandbox, app: App) -> None:
    emulator = kube.kube
    emulator.ready_delay = 1.5
    emulator.max_watch_seconds = 0.1  # each watch ends after 0.1-0.2 s, as the server decides
    before = watches(kube)

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert_converged(app, "green", V1)
    assert watches(kube) - before >= 5  # it watched again each time the server ended one
    assert "watch connection dropped" not in result.stderr  # a timeout is not a failure


def test_a_deploy_lists_again_when_the_history_was_compacted_while_it_waited(
    kube: Sandbox, app: App
) -> None:
    emulator = kube.kube
    emulator.ready_delay = 0.5

    def compact_behind_its_back() -> None:
        # Something else changes while the deploy's watch is being set up, and the history is
        # compacted past the version the deploy listed: its watch meets 410 Gone.
        noise = {"metadata": {"name": f"{app.name}-noise"}, "spec": {"holderIdentity": "x"}}
        kube_api("CoordinationV1Api").create_namespaced_lease("default", noise)
        emulator.compact_history()

    emulator.faults.after("WATCH", "/deployments", compact_behind_its_back)
    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert "watch history expired; reading again" in result.stderr
    assert_converged(app, "green", V1)
    assert len(app.pods("green")) == 2


def test_history_compacted_continuously_while_deploys_run(kube: Sandbox, app: App) -> None:
    emulator = kube.kube
    emulator.ready_delay = 0.5
    emulator.history_seconds = 0  # only the latest event is ever kept
    emulator.faults.cut_watches(after_events=1)

    first = app.bluegreen("deploy", "--commit", V1)
    second = app.bluegreen("deploy", "--commit", V2)
    back = app.bluegreen("rollback")

    for result in (first, second, back):
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert_converged(app, "green", V1)


def test_a_watch_that_never_stays_open_fails_the_deploy_clearly(kube: Sandbox, app: App) -> None:
    before = app.snapshot()
    kube.kube.faults.cut_watches(after_events=None, after_seconds=0)  # every watch, at once

    result = app.bluegreen("deploy", "--commit", V1)
    kube.kube.faults.clear()

    assert result.returncode == 1, result.stderr
    assert "the watch broke off 5 times in a row, each time before any event" in result.stderr
    assert "check the Kubernetes API server and the network to it" in result.stderr
    assert "Traceback" not in result.stderr
    after = app.snapshot()
    assert after["listeners"] == before["listeners"]  # traffic untouched
    assert after["health"] == before["health"]


def test_a_deploy_survives_answers_cut_off_mid_body(kube: Sandbox, app: App) -> None:
    """Status line and headers arrive, then the connection drops inside the body: the request
    is retried (a create that landed is recognised), not a raw urllib3 ProtocolError."""
    faults = kube.kube.faults
    for method, path in [("GET", "/deployments?"), ("GET", "/pods?"), ("POST", "/services")]:
        faults.drop_response(method, path, mid_body=True)
    before = faults.injected["response cut"]

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert faults.injected["response cut"] - before == 3
    assert "IncompleteRead" in result.stderr  # said in the retry's warning
    assert "Traceback" not in result.stderr
    assert_converged(app, "green", V1)


@pytest.mark.parametrize(
    ("code", "said"),
    [(500, "watch connection dropped; resuming"), (410, "watch history expired; reading again")],
)
def test_a_deploy_survives_watches_ended_by_error_events(
    kube: Sandbox, app: App, code: int, said: str
) -> None:
    emulator = kube.kube
    emulator.ready_delay = 1.0
    emulator.bookmark_seconds = 0.1
    emulator.faults.cut_watches(after_events=1, error=code)  # each watch: one event, then ERROR
    before = emulator.faults.injected[f"watch error {code}"]

    result = app.bluegreen("deploy", "--commit", V1)
    emulator.faults.clear()

    assert result.returncode == 0, result.stderr
    assert emulator.faults.injected[f"watch error {code}"] - before >= 3
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert_converged(app, "green", V1)


def test_a_watch_refused_outright_fails_the_deploy_after_bounded_retries(
    kube: Sandbox, app: App
) -> None:
    before = app.snapshot()
    kube.kube.faults.refuse("WATCH", "/deployments", status=403)

    result = app.bluegreen("deploy", "--commit", V1)
    kube.kube.faults.clear()

    assert result.returncode == 1, result.stderr
    assert "Kubernetes refused GET" in result.stderr
    assert "docs/rbac.yaml" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.snapshot()["listeners"] == before["listeners"]


# --- the lock's Lease watch -----------------------------------------------------------------


def test_a_dead_holders_lease_is_taken_over_through_timeouts_and_a_410(
    kube: Sandbox, app: App
) -> None:
    emulator = kube.kube
    emulator.max_watch_seconds = 0.1  # the Lease watch is ended again and again by the server
    dead_lock(app, "d-CRASHED@build-7", seconds=3)

    def compact() -> None:
        noise = {"metadata": {"name": f"{app.name}-noise"}, "spec": {"holderIdentity": "x"}}
        kube_api("CoordinationV1Api").create_namespaced_lease("default", noise)
        emulator.compact_history()

    emulator.faults.after("WATCH", "/leases", compact)
    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert "watch history expired; reading again" in result.stderr
    assert "taking over the lock from a deploy that stopped renewing it" in result.stderr
    assert_converged(app, "green", V1)
    assert lease(app) is None


def test_a_live_holder_is_seen_renewing_through_cut_watches(kube: Sandbox, app: App) -> None:
    emulator = kube.kube
    emulator.bookmark_seconds = 0.1
    emulator.faults.cut_watches(after_events=1)  # every Lease watch breaks after one event
    before = app.listeners()
    cuts = emulator.faults.injected["watch cut"]

    with live_lock(app, "d-LIVE@web-9"):
        result = app.bluegreen("deploy", "--commit", V1)
        held = lease(app).spec.holder_identity

    assert result.returncode == 3, result.stderr
    assert "deploy d-LIVE on host web-9 holds the lock" in result.stderr
    assert emulator.faults.injected["watch cut"] > cuts
    assert "Traceback" not in result.stderr
    assert held == "d-LIVE@web-9"
    assert app.listeners() == before
