"""The router interface: what the deploy steps, rollback, status, repair and preview drive.

A router moves traffic between the two colors. `Router` is the driver (one per load
balancer type); `RouterState` is what it read from the load balancer at one moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from bluegreen_hooks.colors import Color, Ports
from bluegreen_hooks.switch_record import Switch

Accept = Literal["consistent", "unfinished", "anything"]
"""What `Router.read` lets through: a clean pair; also an unfinished switch; anything (repair)."""

Weights = dict[Color, int]
"""Percent of traffic on each color, e.g. {"blue": 90, "green": 10}."""


class RouterState(Protocol):
    """The load balancer as read: each color's port, who is live, an unfinished switch."""

    @property
    def elb_name(self) -> str: ...
    @property
    def ports(self) -> Ports: ...
    @property
    def active(self) -> Color: ...
    @property
    def idle(self) -> Color: ...
    @property
    def commits(self) -> dict[Color, str | None]: ...
    @property
    def switch(self) -> Switch | None: ...
    @property
    def missing(self) -> Sequence[Any]:
        """Public listeners that should exist but do not (always empty where none can go)."""
        ...

    @property
    def weights(self) -> Weights | None:
        """The traffic split while a stepped shift is under way, else None."""
        ...

    def state(self) -> str:
        """Where each public listener points, for a message."""
        ...

    def agreed_color(self) -> Color | None: ...
    def agreed_present_color(self) -> Color | None: ...


class Router(Protocol):
    """A load balancer that moves traffic between the colors."""

    @property
    def kind(self) -> str:
        """The config's `load-balancer-type`: classic, application or network."""
        ...

    @property
    def can_shift(self) -> bool:
        """Whether traffic can be split between the colors (`deploy --steps`)."""
        ...

    @property
    def judges_health(self) -> bool:
        """Whether the load balancer alone can tell a color's health (its target group)."""
        ...

    def read(self, *, accept: Accept = "consistent") -> RouterState:
        """Read the load balancer; refuse (exit 4) any state `accept` does not let through."""
        ...

    def point_at(self, state: RouterState, target: Color, *, by: str, step: str) -> list[int]:
        """Every public listener to `target`, all of its traffic; returns the ports moved."""
        ...

    def shift(
        self, state: RouterState, target: Color, percent: int, *, by: str, step: str
    ) -> list[int]:
        """`percent` of the traffic to `target`, the rest on the other color (recorded as an
        unfinished switch until it reaches 100)."""
        ...

    def record_commit(self, state: RouterState, color: Color, commit: str) -> None:
        """Remember on the load balancer which commit runs on `color` (read by `status`)."""
        ...

    def health_problem(self, state: RouterState, color: Color) -> str | None:
        """Why the load balancer does not find `color` healthy (None when it does)."""
        ...

    def wait_healthy(self, state: RouterState, color: Color, timeout: float) -> None:
        """Until the load balancer finds `color` healthy; DeployFailed after `timeout` s."""
        ...
