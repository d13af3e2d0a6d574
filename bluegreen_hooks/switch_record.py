"""The switch record, on the load balancer's tags: the public listeners and an unfinished switch.

Written before the first listener is touched, so that no crash (kill -9, a lost host) can lose
a listener, its certificate or its policies:

- `bluegreen-listener-<port>`: one public listener as it must exist (protocol, instance
  protocol, certificate, policies). Kept after the switch, so a listener deleted later (by
  hand, or by a crash) is noticed and can be re-created as it was.
- `bluegreen-switch`: the color a switch is moving traffic to, who started it and in which
  step. Present only while a switch is under way; removed once listeners and health check
  are done.

Classic ELB tag values hold at most 256 characters from a small alphabet, so values are
escaped (`_XX` for any other byte) and a long one continues in `<key>.2`, `<key>.3`, ...,
its first part saying how many there are (`n=3+...`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bluegreen_hooks.colors import Color, parse_color
from bluegreen_hooks.errors import InconsistentState

SWITCH_TAG = "bluegreen-switch"
LISTENER_PREFIX = "bluegreen-listener-"
MAX_VALUE = 256
MAX_TAGS = 50  # per Classic ELB
_PLAIN = re.compile(r"[A-Za-z0-9.:/=@-]")
_PART = re.compile(r"^(?P<key>.+)\.(?P<index>[2-9]|[1-9][0-9]+)$")


@dataclass(frozen=True)
class ListenerSpec:
    """A public listener as it must exist, whichever color it forwards to."""

    protocol: str
    port: int
    instance_protocol: str
    certificate: str | None
    policies: tuple[str, ...]

    def describe(self) -> str:
        extra = f", certificate {self.certificate}" if self.certificate else ""
        extra += f", policies {', '.join(self.policies)}" if self.policies else ""
        return f"{self.protocol} {self.port}{extra}"


@dataclass(frozen=True)
class Switch:
    """An unfinished switch: where it was taking traffic, started by whom, in which step."""

    target: Color
    by: str
    step: str


@dataclass(frozen=True)
class Record:
    listeners: dict[int, ListenerSpec]
    switch: Switch | None
    tags: dict[str, str]  # the record's own tags, as read


def listener_key(port: int) -> str:
    return f"{LISTENER_PREFIX}{port}"


def read(elb_name: str, tags: dict[str, str]) -> Record:
    """The record among a load balancer's tags (empty when no switch ever wrote one)."""
    own = {
        k: v
        for k, v in tags.items()
        if k in (SWITCH_TAG,) or k.startswith((f"{SWITCH_TAG}.", LISTENER_PREFIX))
    }
    listeners: dict[int, ListenerSpec] = {}
    switch = None
    try:
        for key in own:
            if _PART.match(key):
                continue
            value = _joined(own, key)
            if key == SWITCH_TAG:
                switch = _parse_switch(value)
            else:
                port = int(key.removeprefix(LISTENER_PREFIX))
                listeners[port] = _parse_listener(port, value)
    except (ValueError, KeyError) as exc:
        raise InconsistentState(
            f"load balancer {elb_name}: the switch record (tags {LISTENER_PREFIX}*, "
            f"{SWITCH_TAG}) cannot be read: {exc}",
            hint="check the listeners by hand, then remove the unreadable tag: aws elb "
            f"remove-tags --load-balancer-names {elb_name} --tags Key=<the tag>",
        ) from exc
    return Record(listeners=listeners, switch=switch, tags=own)


def tags_for(listeners: Iterable[ListenerSpec], switch: Switch | None = None) -> dict[str, str]:
    """The tags (key -> value) that record these listeners and, if given, the switch."""
    tags: dict[str, str] = {}
    for spec in listeners:
        tags.update(_split(listener_key(spec.port), _listener_value(spec)))
    if switch is not None:
        value = "+".join(
            (f"to={switch.target}", f"by={_escape(switch.by)}", f"step={_escape(switch.step)}")
        )
        tags.update(_split(SWITCH_TAG, value))
    return tags


def leftovers(record: Record, written: dict[str, str]) -> list[str]:
    """The tag keys to remove once a switch is done: the switch, and parts no longer used."""
    tags = {**record.tags, **written}
    used: set[str] = set()
    for key, value in tags.items():
        if key.startswith(LISTENER_PREFIX) and not _PART.match(key):
            used.add(key)
            if value.startswith("n="):
                count = int(value.removeprefix("n=").partition("+")[0])
                used.update(f"{key}.{i}" for i in range(2, count + 1))
    return sorted(set(tags) - used)


# --- encoding ---------------------------------------------------------------------------


def _escape(text: str) -> str:
    return "".join(
        ch if _PLAIN.fullmatch(ch) else "".join(f"_{b:02X}" for b in ch.encode()) for ch in text
    )


def _unescape(text: str) -> str:
    out = bytearray()
    index = 0
    while index < len(text):
        if text[index] == "_":
            out.append(int(text[index + 1 : index + 3], 16))
            index += 3
        else:
            out.extend(text[index].encode())
            index += 1
    return out.decode()


def _listener_value(spec: ListenerSpec) -> str:
    fields = [f"{_escape(spec.protocol)}:{_escape(spec.instance_protocol)}"]
    if spec.certificate:
        fields.append(f"cert={_escape(spec.certificate)}")
    fields += [f"policy={_escape(p)}" for p in spec.policies]
    return "+".join(fields)


def _parse_listener(port: int, value: str) -> ListenerSpec:
    head, *rest = value.split("+")
    protocol, instance_protocol = head.split(":")
    fields = [field.split("=", 1) for field in rest]
    certificates = [_unescape(v) for k, v in fields if k == "cert"]
    return ListenerSpec(
        protocol=_unescape(protocol),
        port=port,
        instance_protocol=_unescape(instance_protocol),
        certificate=certificates[0] if certificates else None,
        policies=tuple(_unescape(v) for k, v in fields if k == "policy"),
    )


def _parse_switch(value: str) -> Switch:
    fields = dict(field.split("=", 1) for field in value.split("+"))
    return Switch(
        target=parse_color(fields["to"]),
        by=_unescape(fields.get("by", "")),
        step=_unescape(fields.get("step", "")),
    )


def _split(key: str, value: str) -> dict[str, str]:
    """One tag when the value fits, else parts `key`, `key.2`, ... (the first says how many)."""
    if len(value) <= MAX_VALUE:
        return {key: value}
    size = MAX_VALUE - len("n=99+")
    parts = [value[i : i + size] for i in range(0, len(value), size)]
    tags = {key: f"n={len(parts)}+{parts[0]}"}
    tags.update({f"{key}.{i}": part for i, part in enumerate(parts[1:], start=2)})
    return tags


def _joined(tags: dict[str, str], key: str) -> str:
    first = tags[key]
    if not first.startswith("n="):
        return first
    count, _, head = first.removeprefix("n=").partition("+")
    return head + "".join(tags[f"{key}.{i}"] for i in range(2, int(count) + 1))
