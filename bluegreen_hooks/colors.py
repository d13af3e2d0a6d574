"""The two colors and the router state read from the load balancer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


def parse_color(value: str) -> Color:
    for color in COLORS:
        if value == color:
            return color
    raise ValueError(f"not a color: {value!r} (expected blue or green)")


@dataclass(frozen=True)
class Ports:
    """The NodePort of each color, from the load balancer's `blue` and `green` tags."""

    blue: int
    green: int

    def of(self, color: Color) -> int:
        return self.blue if color == "blue" else self.green

    def color_of(self, port: int) -> Color | None:
        if port == self.blue:
            return "blue"
        if port == self.green:
            return "green"
        return None
