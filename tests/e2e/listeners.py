"""Listener policies, the switch record and lost listeners, set up and read back through boto3."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.runs import status
from tests.e2e.world import App, kube_api

POLICIES = {80: ["sticky"], 443: ["tls-1-2"]}


def add_policies(app: App) -> None:
    """A stickiness policy on 80 and a TLS negotiation policy on 443, as real ELBs carry."""
    app.elb.create_lb_cookie_stickiness_policy(
        LoadBalancerName=app.elb_name, PolicyName="sticky", CookieExpirationPeriod=60
    )
    app.elb.create_load_balancer_policy(
        LoadBalancerName=app.elb_name,
        PolicyName="tls-1-2",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[
            {
                "AttributeName": "Reference-Security-Policy",
                "AttributeValue": "ELBSecurityPolicy-TLS-1-2-2017-01",
            }
        ],
    )
    for port, names in POLICIES.items():
        app.elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=app.elb_name, LoadBalancerPort=port, PolicyNames=names
        )


def policies(app: App) -> dict[int, list[str]]:
    found = app.elb.describe_load_balancers(LoadBalancerNames=[app.elb_name])
    return {
        d["Listener"]["LoadBalancerPort"]: d["PolicyNames"]
        for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
    }


def record_tags(app: App) -> dict[str, str]:
    found = app.elb.describe_tags(LoadBalancerNames=[app.elb_name])["TagDescriptions"][0]
    return {t["Key"]: t["Value"] for t in found["Tags"] if t["Key"].startswith("bluegreen-")}


def lock_holder(app: App) -> str | None:
    leases = kube_api("CoordinationV1Api").list_namespaced_lease("default").items
    for lease in leases:
        if lease.metadata.name == f"{app.name}-bluegreen-lock":
            return str(lease.spec.holder_identity) if lease.spec.holder_identity else None
    return None


def assert_converged(app: App, color: str, *, lock_free: bool = True) -> None:
    """Every public listener on `color` with its protocol, certificate and policies; health
    check on `color`; no unfinished switch; lock free; `status` clean."""
    listeners = app.listeners()
    assert set(listeners) == {80, 443}, listeners
    assert {port: lst["InstancePort"] for port, lst in listeners.items()} == {
        80: app.port(color),
        443: app.port(color),
    }
    assert listeners[80]["Protocol"] == "HTTP"
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["SSLCertificateId"] == app.certificate
    assert policies(app) == POLICIES
    assert app.health_target() == f"HTTP:{app.port(color)}/healthcheck"
    assert "bluegreen-switch" not in record_tags(app)
    if lock_free:
        assert lock_holder(app) is None
    code, out, err = status(app)
    assert code == 0, err
    assert json.loads(out)["active"]["color"] == color


def reset_router(app: App, color: str, **commits: str | None) -> None:
    """Put the ELB back to a clean pair live on `color` (listeners with their policies, health
    check, commit tags), as a finished switch leaves it, so one cluster serves many cases."""
    for port in (80, 443):  # one at a time: moto deletes nothing when given several
        delete_listener(app, port)
    http = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP"}
    https = {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP"}
    app.elb.create_load_balancer_listeners(
        LoadBalancerName=app.elb_name,
        Listeners=[
            {**http, "InstancePort": app.port(color)},
            {**https, "InstancePort": app.port(color), "SSLCertificateId": app.certificate},
        ],
    )
    for port, names in POLICIES.items():
        app.elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=app.elb_name, LoadBalancerPort=port, PolicyNames=names
        )
    app.elb.configure_health_check(
        LoadBalancerName=app.elb_name,
        HealthCheck={
            "Target": f"HTTP:{app.port(color)}/healthcheck",
            "Interval": 30,
            "Timeout": 5,
            "UnhealthyThreshold": 2,
            "HealthyThreshold": 2,
        },
    )
    app.elb.remove_tags(
        LoadBalancerNames=[app.elb_name],
        Tags=[{"Key": "bluegreen-switch"}]
        + [{"Key": f"{c}-commit"} for c, commit in commits.items() if commit is None],
    )
    app.set_tags(**{f"{c}-commit": commit for c, commit in commits.items() if commit})


# --- the state a crash leaves, made by hand ------------------------------------------------


def start_switch(app: App, target: str, step: str, by: str = "d-CRASHED") -> None:
    """The tag a switch writes before it touches the first listener."""
    app.set_tags(**{"bluegreen-switch": f"to={target}+by={by}+step={step}"})


def delete_listener(app: App, port: int) -> None:
    app.elb.delete_load_balancer_listeners(LoadBalancerName=app.elb_name, LoadBalancerPorts=[port])


def move_listener(app: App, port: int, color: str, *, with_policies: bool = True) -> None:
    """Delete and re-create one listener on `color`, as a switch does (policies last)."""
    current: dict[str, Any] = app.listeners()[port]
    delete_listener(app, port)
    listener = {**current, "InstancePort": app.port(color)}
    app.elb.create_load_balancer_listeners(LoadBalancerName=app.elb_name, Listeners=[listener])
    if with_policies:
        app.elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=app.elb_name, LoadBalancerPort=port, PolicyNames=POLICIES[port]
        )
