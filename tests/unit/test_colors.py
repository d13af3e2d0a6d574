"""bluegreen_hooks.colors: the two colors and each color's port."""

from __future__ import annotations

import pytest

from bluegreen_hooks.colors import COLORS, Color, Ports, other, parse_color

PORTS = Ports(blue=30001, green=30002)


def test_there_are_exactly_two_colors_blue_first() -> None:
    assert COLORS == ("blue", "green")


@pytest.mark.parametrize(("color", "expected"), [("blue", "green"), ("green", "blue")])
def test_other_is_the_opposite_color(color: Color, expected: Color) -> None:
    assert other(color) == expected


@pytest.mark.parametrize("color", COLORS)
def test_other_twice_is_the_same_color(color: Color) -> None:
    assert other(other(color)) == color


@pytest.mark.parametrize("value", ["blue", "green"])
def test_parse_color_accepts_each_color(value: str) -> None:
    assert parse_color(value) == value


@pytest.mark.parametrize("value", ["", "Blue", "GREEN", " blue", "red", "off", "active"])
def test_parse_color_rejects_anything_else(value: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_color(value)

    assert str(exc.value) == f"not a color: {value!r} (expected blue or green)"


@pytest.mark.parametrize(("color", "port"), [("blue", 30001), ("green", 30002)])
def test_ports_of_a_color(color: Color, port: int) -> None:
    assert PORTS.of(color) == port


@pytest.mark.parametrize(("port", "color"), [(30001, "blue"), (30002, "green")])
def test_ports_color_of_a_tagged_port(port: int, color: Color) -> None:
    assert PORTS.color_of(port) == color


@pytest.mark.parametrize("port", [80, 443, 30000, 30003, 0])
def test_ports_color_of_an_untagged_port_is_none(port: int) -> None:
    assert PORTS.color_of(port) is None


def test_ports_are_immutable_and_compare_by_value() -> None:
    assert Ports(blue=30001, green=30002) == PORTS
    assert Ports(blue=30002, green=30001) != PORTS
    with pytest.raises(AttributeError):
        PORTS.blue = 1  # type: ignore[misc]
