"""bluegreen_hooks.switch_record: listeners and a switch written to ELB tags and read back."""

from __future__ import annotations

import re

import pytest

from bluegreen_hooks import switch_record
from bluegreen_hooks.errors import InconsistentState
from bluegreen_hooks.switch_record import ListenerSpec, Switch

# What a Classic ELB accepts in a tag value (and key): letters, digits, spaces, _ . : / = + - @
TAG_ALPHABET = re.compile(r"^[A-Za-z0-9 _.:/=+@-]*$")

HTTPS = ListenerSpec(
    protocol="HTTPS",
    port=443,
    instance_protocol="HTTP",
    certificate="arn:aws:acm:us-west-2:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
    policies=("ELBSecurityPolicy-TLS-1-2-2017-01", "sticky"),
)
HTTP = ListenerSpec("HTTP", 80, "HTTP", None, ())


def round_trip(*specs: ListenerSpec, switch: Switch | None = None) -> switch_record.Record:
    tags = switch_record.tags_for(specs, switch)
    for key, value in tags.items():
        assert len(value) <= switch_record.MAX_VALUE, key
        assert len(key) <= 128
        assert TAG_ALPHABET.match(key) and TAG_ALPHABET.match(value), (key, value)
    return switch_record.read("lb", {"blue": "30001", "green": "30002", **tags})


def test_listeners_and_switch_survive_the_round_trip() -> None:
    switch = Switch(target="green", by="d-ABC123", step="deploy")

    record = round_trip(HTTP, HTTPS, switch=switch)

    assert record.listeners == {80: HTTP, 443: HTTPS}
    assert record.switch == switch
    assert set(record.tags) == {
        "bluegreen-listener-80",
        "bluegreen-listener-443",
        "bluegreen-switch",
    }


def test_one_tag_per_listener_and_one_for_the_switch() -> None:
    tags = switch_record.tags_for([HTTP, HTTPS], Switch("blue", "cli-1", "rollback"))

    assert tags["bluegreen-listener-80"] == "HTTP:HTTP"
    assert tags["bluegreen-switch"] == "to=blue+by=cli-1+step=rollback"
    assert tags["bluegreen-listener-443"].startswith("HTTPS:HTTP+cert=arn:aws:acm:")


def test_characters_a_tag_cannot_hold_are_escaped() -> None:
    odd = ListenerSpec(
        "HTTPS", 8443, "HTTPS", "arn:aws:iam::1:server-certificate/a b,c_d+é", ("p+1", "p_2")
    )

    assert round_trip(odd, switch=Switch("green", "by me, now", "deploy")).listeners[8443] == odd


def test_a_long_certificate_spreads_over_several_tags() -> None:
    path = "/".join(["team-platform-certificates"] * 20)
    long = ListenerSpec("HTTPS", 443, "HTTP", f"arn:aws:iam::1:server-certificate/{path}/x", ())

    tags = switch_record.tags_for([long])
    record = round_trip(long)

    assert set(tags) == {
        "bluegreen-listener-443",
        "bluegreen-listener-443.2",
        "bluegreen-listener-443.3",
    }
    assert record.listeners == {443: long}


def test_no_record_reads_as_empty() -> None:
    record = switch_record.read("lb", {"blue": "30001", "green": "30002", "team": "x"})

    assert record.listeners == {} and record.switch is None and record.tags == {}


@pytest.mark.parametrize(
    "tags",
    [
        {"bluegreen-switch": "to=purple"},
        {"bluegreen-switch": "by=someone"},
        {"bluegreen-listener-80": "HTTP"},
        {"bluegreen-listener-eighty": "HTTP:HTTP"},
        {"bluegreen-listener-443": "n=2+HTTPS:HTTP+cert=arn"},
    ],
)
def test_an_unreadable_record_is_an_inconsistent_state_naming_the_fix(
    tags: dict[str, str],
) -> None:
    with pytest.raises(InconsistentState, match="switch record") as failure:
        switch_record.read("lb", tags)

    assert (
        failure.value.hint is not None
        and "remove-tags --load-balancer-names lb" in failure.value.hint
    )


def test_clearing_removes_the_switch_and_parts_no_longer_used() -> None:
    path = "/".join(["team-platform-certificates"] * 20)
    long = ListenerSpec("HTTPS", 443, "HTTP", f"arn:aws:iam::1:server-certificate/{path}/x", ())
    before = switch_record.read("lb", switch_record.tags_for([long]))
    written = switch_record.tags_for([HTTP, HTTPS], Switch("green", "d-1", "deploy"))

    assert switch_record.leftovers(before, written) == [
        "bluegreen-listener-443.2",
        "bluegreen-listener-443.3",
        "bluegreen-switch",
    ]
