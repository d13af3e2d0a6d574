"""A switch that fails halfway: the listeners already moved go back, read back from the ELB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen_hooks import elb
from bluegreen_hooks.config import parse_config
from bluegreen_hooks.errors import DeployFailed
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


def router_of(app: App) -> elb.Router:
    config = parse_config({"elb-name": app.elb_name, "application-name": app.name}, Path(".oopsrc"))
    return elb.read_router(boto3.client("elb"), config)


def test_failing_second_listener_puts_the_first_back(sandbox: Sandbox, app: App) -> None:
    before = app.listeners()
    router = router_of(app)
    client: Any = FailingCreates(boto3.client("elb"), failing={2})

    with pytest.raises(DeployFailed, match="could not point listener 443") as failure:
        elb.switch_listeners(client, app.elb_name, router.listeners, app.green)

    assert failure.value.hint is not None and "back where it was" in failure.value.hint
    assert app.listeners() == before


def test_a_listener_that_cannot_be_put_back_is_reported(sandbox: Sandbox, app: App) -> None:
    router = router_of(app)
    client: Any = FailingCreates(boto3.client("elb"), failing={2, 3})

    with pytest.raises(DeployFailed) as failure:
        elb.switch_listeners(client, app.elb_name, router.listeners, app.green)

    assert failure.value.hint is not None and "bluegreen repair" in failure.value.hint
    assert 443 not in app.listeners()
    assert app.listeners()[80]["InstancePort"] == app.blue
