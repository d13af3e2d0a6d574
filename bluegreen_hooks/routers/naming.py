"""Which kind of load balancer has a name: for the error when the config names the wrong kind."""

from __future__ import annotations

from bluegreen_hooks.aws_clients import make_client
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import ConfigError

LABELS = {
    "classic": "a Classic ELB",
    "application": "an Application Load Balancer",
    "network": "a Network Load Balancer",
}


def not_found(config: Config, kind: str) -> ConfigError:
    """No load balancer of `kind` is named `elb-name`: say which kind is, if any."""
    found = kind_of(config, config.elb_name, other_than=kind)
    where = f"{config.path}: key 'elb-name': "
    if found is not None:
        return ConfigError(
            f"{where}{config.elb_name!r} is not {LABELS[kind]}: it is {LABELS[found]}",
            hint=f'set "load-balancer-type": "{found}" in {config.path}',
        )
    return ConfigError(
        f"{where}load balancer {config.elb_name!r} not found (of any type; the config says "
        f"{LABELS[kind]})",
        hint="check elb-name, load-balancer-type and the region "
        "(config 'region' or AWS_DEFAULT_REGION)",
    )


def kind_of(config: Config, name: str, *, other_than: str) -> str | None:
    """The kind of the load balancer called `name`, looking only where `other_than` is not."""
    try:
        if other_than != "classic":
            classic = make_client("elb", config.region)
            classic.describe_load_balancers(LoadBalancerNames=[name])
            return "classic"
        found = make_client("elbv2", config.region).describe_load_balancers(Names=[name])
        return str(found["LoadBalancers"][0]["Type"])
    except Exception:  # not found (or not readable): nothing more to say than "not found"
        return None
