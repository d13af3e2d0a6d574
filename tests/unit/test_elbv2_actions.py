"""A forward action's weights, and the same actions re-weighted with everything else kept."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen_hooks.colors import Color
from bluegreen_hooks.routers.elbv2 import Place

GROUPS: dict[Color, str] = {"blue": "arn:tg/blue", "green": "arn:tg/green"}
AUTH = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"Issuer": "x"}}


def place(*actions: dict[str, Any]) -> Place:
    return Place(arn="arn:listener", port=443, rule=None, actions=actions)


def forward(*weights: tuple[str, int], **extra: Any) -> dict[str, Any]:
    groups = [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights]
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": groups, **extra}}


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ({"Type": "forward", "TargetGroupArn": "arn:tg/blue"}, {"blue": 100, "green": 0}),
        (forward(("arn:tg/green", 1)), {"blue": 0, "green": 100}),
        (forward(("arn:tg/blue", 90), ("arn:tg/green", 10)), {"blue": 90, "green": 10}),
        (forward(("arn:tg/blue", 1), ("arn:tg/green", 3)), {"blue": 25, "green": 75}),
        (forward(("arn:tg/blue", 0), ("arn:tg/green", 0)), None),  # no target at all
        (forward(("arn:tg/blue", 5), ("arn:tg/other", 5)), None),  # partly elsewhere
        ({"Type": "forward", "TargetGroupArn": "arn:tg/other"}, None),
        ({"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}, None),
    ],
)
def test_weights_of_a_forward_action(action: dict[str, Any], expected: Any) -> None:
    assert place(AUTH, action).weights(GROUPS) == expected


def test_re_weighting_keeps_the_other_actions_order_and_stickiness() -> None:
    sticky = {"Enabled": True, "DurationSeconds": 60}
    found = place(
        AUTH, {**forward(("arn:tg/blue", 1), TargetGroupStickinessConfig=sticky), "Order": 2}
    )

    actions = found.with_weights(GROUPS, {"blue": 90, "green": 10})

    assert actions[0] == AUTH
    assert actions[1] == {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": "arn:tg/blue", "Weight": 90},
                {"TargetGroupArn": "arn:tg/green", "Weight": 10},
            ],
            "TargetGroupStickinessConfig": sticky,
        },
    }
    assert Place("a", 443, None, tuple(actions)).weights(GROUPS) == {"blue": 90, "green": 10}


def test_all_of_the_traffic_on_one_color_names_only_that_group() -> None:
    found = place({"Type": "forward", "TargetGroupArn": "arn:tg/blue"})

    [action] = found.with_weights(GROUPS, {"blue": 0, "green": 100})

    assert "TargetGroupArn" not in action
    assert action["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": "arn:tg/green", "Weight": 100}
    ]
