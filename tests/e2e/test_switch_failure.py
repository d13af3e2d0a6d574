"""A switch failing halfway: moved listeners go back, or the record says what to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen_hooks.config import parse_config
from bluegreen_hooks.errors import DeployFailed
from bluegreen_hooks.routers import classic as elb
from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.world import App


class FailingCreates:
    """The real ELB client, except that chosen CreateLoadBalancerListeners calls fail."""

    def __init__(self, client: Any, failing: set[int]) -> None:
        self._client = client
        self._failing = failing
        self._creates = 0

    def create_load_balancer_listeners(self, **kwargs: Any) -> Any:
        self._creates += 1
        if self._creates in self._failing:
            raise RuntimeError("Throttling: rate exceeded")
        return self._client.create_load_balancer_listeners(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def router_of(app: App) -> elb.ClassicState:
    config = parse_config({"elb-name": app.elb_name, "application-name": app.name}, Path(".oopsrc"))
    return elb.read_router(boto3.client("elb"), config)


def switch_to_green(app: App, client: Any) -> None:
    config = parse_config({"elb-name": app.elb_name, "application-name": app.name}, Path(".oopsrc"))
    elb.point_at(client, router_of(app), config.health_check, "green", by="test", step="deploy")


def test_failing_second_listener_puts_the_first_back(sandbox: Sandbox, app: App) -> None:
    before = app.listeners()
    client: Any = FailingCreates(boto3.client("elb"), failing={2})

    with pytest.raises(DeployFailed, match="could not point listener 443") as failure:
        switch_to_green(app, client)

    assert failure.value.hint is not None and "back where it was" in failure.value.hint
    assert app.listeners() == before
    assert app.bluegreen("status").returncode == 0


def test_a_listener_that_cannot_be_put_back_is_reported_and_repaired(
    sandbox: Sandbox, app: App
) -> None:
    client: Any = FailingCreates(boto3.client("elb"), failing={2, 3})

    with pytest.raises(DeployFailed) as failure:
        switch_to_green(app, client)

    assert failure.value.hint is not None and "bluegreen repair" in failure.value.hint
    assert 80 not in app.listeners()
    status = app.bluegreen("status")
    assert status.returncode == 4, status.stderr
    assert "a switch to green (deploy test) did not finish" in status.stderr
    assert "listeners 80 missing, 443 on blue" in status.stderr

    repaired = app.bluegreen("repair", "--color", "blue")

    assert repaired.returncode == 0, repaired.stderr
    assert app.instance_ports() == {app.blue}
    assert app.listeners()[443]["SSLCertificateId"] == app.certificate
    assert app.bluegreen("status").returncode == 0


def test_repoint_puts_back_the_others_when_one_listener_cannot_go_back(
    sandbox: Sandbox, app: App
) -> None:
    before = app.listeners()
    client: Any = FailingCreates(boto3.client("elb"), failing={2, 3})
    described = boto3.client("elb").describe_load_balancers(LoadBalancerNames=[app.elb_name])
    listeners = elb.listeners_found(dict(described["LoadBalancerDescriptions"][0]))
    assert list(listeners) == [80, 443]

    with pytest.raises(DeployFailed, match="could not point listener 443") as failure:
        elb.repoint(client, app.elb_name, listeners.values(), app.green)

    assert failure.value.hint is not None and "443" in failure.value.hint
    assert "every listener is back" not in failure.value.hint
    assert app.listeners() == {80: before[80]}
