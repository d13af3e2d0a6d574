"""Deploys and rollbacks under injected faults: transient ones are retried and the deploy
succeeds; permanent ones stop it cleanly, with the documented exit code and traffic untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.crash import FAST_LEASE, assert_converged
from tests.e2e.world import App, lease

V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, with every fault cleared again after the test."""
    yield sandbox
    sandbox.aws.faults.clear()
    sandbox.kube.faults.clear()


def misbehave(sandbox: Sandbox, seed: int) -> None:
    """20% of AWS requests throttled or unavailable; 20% of Kubernetes requests answered 500
    or 429 (Retry-After 1 s); every watch cut after one event."""
    sandbox.aws.faults.transient(0.2, seed=seed)
    sandbox.kube.faults.transient(0.2, statuses=(500, 429, 503), seed=seed)
    sandbox.kube.faults.cut_watches(after_events=1)


def behave(sandbox: Sandbox) -> None:
    sandbox.aws.faults.clear()
    sandbox.kube.faults.clear()


@pytest.mark.slow
def test_deploys_and_rollback_succeed_through_transient_faults(faults: Sandbox, app: App) -> None:
    aws_before = sum(faults.aws.faults.injected.values())
    kube_before = faults.kube.faults.injected.copy()

    misbehave(faults, seed=1)
    first = app.bluegreen("deploy", "--commit", V1)
    second = app.bluegreen("deploy", "--commit", V2)
    back = app.bluegreen("rollback")
    behave(faults)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert back.returncode == 0, back.stderr
    assert_converged(app, "green", V1)  # V1 on green, V2 on blue: rollback went to green
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("blue")} == {V2}
    aws = sum(faults.aws.faults.injected.values()) - aws_before
    kube = faults.kube.faults.injected - kube_before
    print(f"faults injected: AWS {aws}, Kubernetes {dict(kube)}")
    assert aws > 0
    assert kube["500"] + kube["429"] + kube["503"] > 0
    assert kube["watch cut"] > 0
    logs = first.stderr + second.stderr + back.stderr
    assert "Kubernetes request failed; retrying" in logs


def test_an_aws_refusal_of_the_switch_stops_with_traffic_untouched(
    faults: Sandbox, app: App
) -> None:
    before = app.listeners()
    health = app.health_target()
    faults.aws.faults.refuse("DeleteLoadBalancerListeners")

    result = app.bluegreen("deploy", "--commit", V1)
    behave(faults)

    assert result.returncode == 1, result.stderr
    assert "AccessDenied" in result.stderr
    assert "elasticloadbalancing:DeleteLoadBalancerListeners" in result.stderr
    assert "every listener is back where it was" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.listeners() == before
    assert app.health_target() == health
    assert lease(app) is None


def test_an_aws_refusal_is_not_retried(faults: Sandbox, app: App) -> None:
    faults.aws.reset_counters()
    faults.aws.faults.refuse("DescribeLoadBalancers")

    result = app.bluegreen("status")
    behave(faults)

    assert result.returncode == 1, result.stderr
    assert "AccessDenied" in result.stderr
    assert faults.aws.requests_by_action["DescribeLoadBalancers"] == 1


def test_an_unknown_load_balancer_stops_at_once_even_when_aws_is_throttling(
    faults: Sandbox, app: App
) -> None:
    app.settings(**{"elb-name": "no-such-elb"})
    faults.aws.faults.transient(0.2, seed=5)

    result = app.bluegreen("deploy", "--commit", V1)
    behave(faults)

    assert result.returncode == 2, result.stderr
    assert "load balancer 'no-such-elb' not found" in result.stderr
    assert app.services() == []


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("*", "/leases", 403, "Kubernetes refused GET /apis/coordination.k8s.io"),
        ("POST", "/services", 403, "Kubernetes refused POST /api/v1/namespaces/default/services"),
        ("POST", "/deployments", 403, "docs/rbac.yaml"),
        ("POST", "/deployments", 422, "Kubernetes refused Deployment"),
    ],
)
def test_a_kubernetes_refusal_stops_with_traffic_untouched(
    faults: Sandbox, app: App, method: str, path: str, status: int, says: str
) -> None:
    before = app.listeners()
    refused_before = faults.kube.faults.injected[f"refused {status}"]
    faults.kube.faults.refuse(method, path, status=status)

    result = app.bluegreen("deploy", "--commit", V1)
    behave(faults)

    assert result.returncode == 1, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert app.listeners() == before
    assert app.pods("green") == []
    assert faults.kube.faults.injected[f"refused {status}"] == refused_before + 1  # no retry


def test_writes_whose_answers_are_lost_are_recognised_when_retried(
    faults: Sandbox, app: App
) -> None:
    for method, path in [
        ("POST", "/leases"),
        ("POST", "/services"),
        ("POST", "/deployments"),
        ("PUT", "/leases"),
        ("DELETE", "/leases"),
    ]:
        faults.kube.faults.drop_response(method, path)
    dropped_before = faults.kube.faults.injected["response dropped"]

    result = app.bluegreen("deploy", "--commit", V1)
    behave(faults)

    assert result.returncode == 0, result.stderr
    assert faults.kube.faults.injected["response dropped"] - dropped_before == 5
    assert_converged(app, "green", V1)


def test_kubernetes_retries_are_bounded_and_wait_as_retry_after_says(
    faults: Sandbox, app: App
) -> None:
    faults.kube.faults.transient(1.0, statuses=(429,), retry_after=1)
    faults.kube.reset_counters()

    result = app.bluegreen("readiness", "--log-format", "json")
    requests = faults.kube.request_count
    behave(faults)

    assert result.returncode == 1, result.stderr
    assert "TooManyRequests" in result.stderr
    assert "Traceback" not in result.stderr
    assert requests == 5  # the first request, tried five times in all, then given up
    retries = [
        json.loads(line)
        for line in result.stderr.splitlines()
        if "Kubernetes request failed; retrying" in line
    ]
    assert [r["retry_in"] for r in retries] == [1, 1, 1, 1]  # the server's Retry-After


def test_a_lock_that_cannot_be_renewed_stops_the_deploy_before_the_switch(
    faults: Sandbox, app: App
) -> None:
    before = app.listeners()
    faults.kube.faults.refuse("PUT", "/leases")

    result = app.bluegreen("deploy", "--commit", V1)
    behave(faults)

    assert result.returncode == 1, result.stderr
    assert "Kubernetes refused PUT /apis/coordination.k8s.io" in result.stderr
    assert app.listeners() == before
    assert lease(app) is None  # released all the same


def test_a_lock_that_cannot_be_released_lapses_and_the_deploy_still_succeeds(
    faults: Sandbox, app: App
) -> None:
    faults.kube.faults.refuse("DELETE", "/leases")

    result = app.bluegreen("deploy", "--commit", V1, env=FAST_LEASE)
    behave(faults)

    assert result.returncode == 0, result.stderr
    assert "could not release the lock; it lapses by itself" in result.stderr
    assert {listener["InstancePort"] for listener in app.listeners().values()} == {app.green}
    assert lease(app) is not None

    nxt = app.bluegreen("deploy", "--commit", V2, env=FAST_LEASE)  # within one lease duration

    assert nxt.returncode == 0, nxt.stderr
    assert_converged(app, "blue", V2)
