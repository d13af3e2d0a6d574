"""Lost listeners and unfinished switches: noticed (exit 4 with the fix), refused, and repaired.

The broken states are made by hand through boto3, exactly as a crash would leave them; the kill
matrix (test_kill_matrix.py) makes them by killing real runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.listeners import (
    POLICIES,
    add_policies,
    assert_converged,
    delete_listener,
    move_listener,
    policies,
    record_tags,
    reset_router,
    start_switch,
)
from tests.e2e.world import App, make_app

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"
V3 = "3333333cccccccc"


def deploy(app: App, commit: str) -> None:
    result = app.bluegreen("deploy", "--commit", commit)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def both_ready(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> App:
    app = make_app(sandbox, Path(tmp_path_factory.mktemp("both-ready")))
    add_policies(app)
    deploy(app, V1)
    deploy(app, V2)
    return app


@pytest.fixture(scope="module")
def green_only_cluster(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> App:
    app = make_app(sandbox, Path(tmp_path_factory.mktemp("green-only")))
    add_policies(app)
    deploy(app, V1)
    return app


@pytest.fixture
def green_only(green_only_cluster: App) -> App:
    """V1 live on green; blue has never been deployed (not Ready)."""
    reset_router(green_only_cluster, "green", green=V1, blue=None)
    return green_only_cluster


@pytest.fixture
def live(both_ready: App) -> App:
    """V1 on green (idle, Ready), V2 live on blue; both listeners carry policies. The cluster
    is shared by the tests of this module that change only the load balancer."""
    reset_router(both_ready, "blue", blue=V2, green=V1)
    return both_ready


def exits_4(app: App, *fragments: str) -> str:
    result = app.bluegreen("status")
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    return result.stderr


def test_a_switch_records_every_listener_and_then_clears_the_switch(app: App) -> None:
    add_policies(app)

    deploy(app, V1)

    tags = record_tags(app)
    assert tags["bluegreen-listener-80"] == "HTTP:HTTP+policy=sticky"
    assert tags["bluegreen-listener-443"].startswith("HTTPS:HTTPS+cert=arn:aws:iam::")
    assert "bluegreen-switch" not in tags
    assert_converged(app, "green")


def test_a_lost_https_listener_is_reported_refused_and_repaired(app: App) -> None:
    add_policies(app)
    deploy(app, V1)
    delete_listener(app, 443)

    stderr = exits_4(app, "listener HTTPS 443", app.certificate, "tls-1-2", "is missing")
    assert "`bluegreen repair` re-creates it" in stderr
    before = app.snapshot()
    refused = app.bluegreen("deploy", "--commit", V2)
    assert refused.returncode == 4, refused.stderr
    assert "listener HTTPS 443" in refused.stderr
    assert app.snapshot() == before

    repaired = app.bluegreen("repair")

    assert repaired.returncode == 0, repaired.stderr
    assert_converged(app, "green")
    deploy(app, V2)
    assert_converged(app, "blue")


def test_repair_finishes_a_switch_a_crash_left_halfway(live: App) -> None:
    start_switch(live, "green", "deploy")
    move_listener(live, 80, "green")
    delete_listener(live, 443)

    exits_4(
        live,
        "a switch to green (deploy d-CRASHED) did not finish",
        "listeners 80 on green, 443 missing; health check on blue",
        "bluegreen repair",
    )
    repaired = live.bluegreen("repair")

    assert repaired.returncode == 0, repaired.stderr
    assert_converged(live, "green")


def test_a_listener_recreated_without_its_policies_is_half_moved(live: App) -> None:
    start_switch(live, "green", "rollback")
    move_listener(live, 80, "green", with_policies=False)

    exits_4(live, "listeners 80 on green without its policies sticky, 443 on blue")
    rerun = live.bluegreen("rollback")

    assert rerun.returncode == 0, rerun.stderr
    assert_converged(live, "green")


def test_repair_undoes_a_switch_towards_a_color_that_is_not_ready(green_only: App) -> None:
    app = green_only
    start_switch(app, "blue", "rollback")
    move_listener(app, 80, "blue")
    delete_listener(app, 443)

    repaired = app.bluegreen("repair")

    assert repaired.returncode == 0, repaired.stderr
    assert_converged(app, "green")


def test_rerunning_an_interrupted_rollback_finishes_it(live: App) -> None:
    start_switch(live, "green", "rollback")
    delete_listener(live, 80)

    rerun = live.bluegreen("rollback")

    assert rerun.returncode == 0, rerun.stderr
    assert_converged(live, "green")


def test_a_rollback_after_an_interrupted_deploy_returns_to_the_color_live_before(
    live: App,
) -> None:
    start_switch(live, "green", "deploy")
    move_listener(live, 80, "green")
    delete_listener(live, 443)

    result = live.bluegreen("rollback")

    assert result.returncode == 0, result.stderr
    assert_converged(live, "blue")


def test_a_rollback_is_refused_when_it_would_finish_on_a_color_not_ready(green_only: App) -> None:
    app = green_only
    start_switch(app, "blue", "rollback")
    delete_listener(app, 80)
    before = app.snapshot()

    result = app.bluegreen("rollback")

    assert result.returncode == 1, result.stderr
    assert "refusing to roll back to blue" in result.stderr
    assert app.snapshot() == before


def test_a_deploy_finishes_an_interrupted_switch_before_it_starts(app: App) -> None:
    add_policies(app)
    deploy(app, V1)
    deploy(app, V2)
    live = app
    start_switch(live, "green", "rollback")
    delete_listener(live, 443)

    result = live.bluegreen("deploy", "--commit", V3)

    assert result.returncode == 0, result.stderr
    assert "finishing an interrupted switch" in result.stderr
    assert_converged(live, "blue")
    assert live.status()["active"]["commit"] == V3
    assert live.status()["idle"]["commit"] == V1


def test_repair_refuses_when_it_cannot_tell_which_color_should_be_live(live: App) -> None:
    move_listener(live, 80, "green")
    stderr = exits_4(live, "listeners disagree (listeners 80 on green, 443 on blue")
    assert "bluegreen repair" in stderr
    before = live.snapshot()

    result = live.bluegreen("repair")

    assert result.returncode == 4, result.stderr
    assert "cannot tell which color should be live: both colors are fully Ready" in result.stderr
    assert "--color" in result.stderr
    assert live.snapshot() == before

    forced = live.bluegreen("repair", "--color", "green")
    assert forced.returncode == 0, forced.stderr
    assert_converged(live, "green")


def test_repair_refuses_when_neither_color_is_ready(app: App) -> None:
    start_switch(app, "green", "deploy")
    move_listener(app, 80, "green", with_policies=False)
    before = app.snapshot()

    result = app.bluegreen("repair")

    assert result.returncode == 4, result.stderr
    assert "neither color is fully Ready" in result.stderr
    assert app.snapshot() == before


def test_repair_of_a_clean_router_changes_nothing(live: App) -> None:
    before = live.snapshot()

    result = live.bluegreen("repair")

    assert result.returncode == 0, result.stderr
    assert "nothing to repair" in result.stderr
    assert live.snapshot() == before


def test_a_record_that_cannot_be_written_stops_the_switch_before_any_listener(app: App) -> None:
    add_policies(app)
    app.set_tags(**{f"team-{n}": "x" for n in range(6)})  # the emulated ELB holds 10 tags
    before = app.listeners()

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 1, result.stderr
    assert "could not record the switch" in result.stderr
    assert "nothing was switched" in result.stderr and "Traceback" not in result.stderr
    assert app.listeners() == before
    assert policies(app) == POLICIES
    assert app.bluegreen("status").returncode == 0


def test_a_listener_removed_on_purpose_is_forgotten_by_following_the_fix(app: App) -> None:
    deploy(app, V1)
    delete_listener(app, 443)
    stderr = exits_4(app, "is missing")
    assert "Key=bluegreen-listener-443" in stderr

    app.elb.remove_tags(LoadBalancerNames=[app.elb_name], Tags=[{"Key": "bluegreen-listener-443"}])

    assert set(app.listeners()) == {80}
    assert app.status()["active"]["color"] == "green"
    deploy(app, V2)
    assert set(app.listeners()) == {80} and app.instance_ports() == {app.blue}


def test_an_unreadable_record_is_reported_and_nothing_is_switched(green_only: App) -> None:
    app = green_only
    app.set_tags(**{"bluegreen-switch": "to=purple"})
    before = app.snapshot()

    exits_4(app, "the switch record", "cannot be read", "remove-tags")
    for command in (["deploy", "--commit", V2], ["rollback", "--force"]):
        result = app.bluegreen(*command)
        assert result.returncode == 4, result.stderr
    assert app.snapshot() == before


def test_repair_without_a_color_needs_kubernetes_and_says_so(live: App) -> None:
    start_switch(live, "green", "deploy")
    delete_listener(live, 443)
    unreachable = live.folder / "unreachable-kubeconfig"
    unreachable.write_text(
        live.sandbox.kubeconfig.read_text().replace(live.sandbox.kube.url, "http://127.0.0.1:9")
    )
    before = live.snapshot()

    result = live.bluegreen("repair", env={"KUBECONFIG": str(unreachable)})

    assert result.returncode == 1, result.stderr
    assert "Kubernetes API at http://127.0.0.1:9 not reachable" in result.stderr
    assert "bluegreen repair --color C" in result.stderr
    assert "Traceback" not in result.stderr
    assert live.snapshot() == before


def test_a_record_that_cannot_be_cleared_is_reported_and_repair_clears_it(app: App) -> None:
    add_policies(app)
    app.sandbox.aws.faults.refuse("RemoveTags")  # e.g. an IAM policy from before the record
    try:
        result = app.bluegreen("deploy", "--commit", V1)
    finally:
        app.sandbox.aws.faults.clear()

    assert result.returncode == 1, result.stderr
    assert "the switch record on" in result.stderr and "could not be cleared" in result.stderr
    assert "elasticloadbalancing:RemoveTags" in result.stderr
    assert app.instance_ports() == {app.green}
    exits_4(app, "a switch to green", "did not finish", "listeners 80 on green, 443 on green")

    repaired = app.bluegreen("repair")

    assert repaired.returncode == 0, repaired.stderr
    assert_converged(app, "green")
