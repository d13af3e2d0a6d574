"""AwsFaults in front of moto: errors as botocore parses them, refusals, kill points, clear."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen_hooks.sandbox.aws import MotoServer
from bluegreen_hooks.sandbox.scenario import create_load_balancer

REGION = "us-west-2"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto: MotoServer) -> Iterator[MotoServer]:
    yield moto
    moto.faults.clear()


def elb_client(moto: MotoServer, *, attempts: int = 1) -> Any:
    """An ELB client on the emulator; attempts=1 means botocore does not retry."""
    return boto3.client(
        "elb",
        region_name=REGION,
        endpoint_url=moto.url,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def new_elb(moto: MotoServer) -> str:
    name = f"faults-{next(_names)}"
    client = elb_client(moto, attempts=5)
    client.create_load_balancer(
        LoadBalancerName=name,
        Listeners=[
            {
                "Protocol": "HTTP",
                "LoadBalancerPort": 80,
                "InstanceProtocol": "HTTP",
                "InstancePort": 30001,
            }
        ],
        AvailabilityZones=[f"{REGION}a"],
    )
    return name


def listener_ports(moto: MotoServer, name: str) -> dict[int, int]:
    found = elb_client(moto).describe_load_balancers(LoadBalancerNames=[name])
    return {
        d["Listener"]["LoadBalancerPort"]: d["Listener"]["InstancePort"]
        for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
    }


def test_every_request_throttled_reaches_botocore_as_a_retryable_aws_error(
    aws: MotoServer,
) -> None:
    name = new_elb(aws)
    aws.faults.transient(1.0, seed=1)
    before = dict(aws.faults.injected)
    codes = set()
    for _ in range(8):
        with pytest.raises(ClientError) as failure:
            elb_client(aws).delete_load_balancer_listeners(
                LoadBalancerName=name, LoadBalancerPorts=[80]
            )
        error = failure.value.response
        codes.add((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]))
    assert codes == {("Throttling", 400), ("ServiceUnavailable", 503)}
    injected = aws.faults.injected - Counter(before)
    assert sum(injected.values()) == 8
    aws.faults.clear()
    assert listener_ports(aws, name) == {80: 30001}  # moto never saw the deletes


def test_a_share_of_requests_fails_and_botocore_retries_get_through(aws: MotoServer) -> None:
    name = new_elb(aws)
    before = sum(aws.faults.injected.values())
    aws.faults.transient(0.3, seed=7)
    client = elb_client(aws, attempts=10)
    for _ in range(20):
        client.describe_load_balancers(LoadBalancerNames=[name])
    injected = sum(aws.faults.injected.values()) - before
    print(f"AWS faults injected: {injected} in 20 calls")
    assert 0 < injected < 20


def test_only_limits_transient_faults_to_the_named_actions(aws: MotoServer) -> None:
    name = new_elb(aws)
    aws.faults.transient(1.0, only={"DescribeTags"})
    elb_client(aws).describe_load_balancers(LoadBalancerNames=[name])
    with pytest.raises(ClientError):
        elb_client(aws).describe_tags(LoadBalancerNames=[name])


def test_a_refused_action_is_access_denied_and_changes_nothing(aws: MotoServer) -> None:
    name = new_elb(aws)
    aws.faults.refuse("DeleteLoadBalancerListeners")
    for _ in range(3):  # permanent: every time
        with pytest.raises(ClientError) as failure:
            elb_client(aws, attempts=3).delete_load_balancer_listeners(
                LoadBalancerName=name, LoadBalancerPorts=[80]
            )
        error = failure.value.response
        assert error["Error"]["Code"] == "AccessDenied"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "elasticloadbalancing:DeleteLoadBalancerListeners" in error["Error"]["Message"]
    assert listener_ports(aws, name) == {80: 30001}


def test_refuse_takes_any_status_and_code(aws: MotoServer) -> None:
    name = new_elb(aws)
    aws.faults.refuse("DescribeLoadBalancers", status=400, code="AccessPointNotFound")
    with pytest.raises(ClientError) as failure:
        elb_client(aws).describe_load_balancers(LoadBalancerNames=[name])
    assert failure.value.response["Error"]["Code"] == "AccessPointNotFound"


def test_after_calls_back_once_moto_changed_state_before_the_client_hears(
    aws: MotoServer,
) -> None:
    name = new_elb(aws)
    seen: list[dict[int, int]] = []
    aws.faults.after(
        "DeleteLoadBalancerListeners", lambda: seen.append(listener_ports(aws, name)), nth=2
    )
    client = elb_client(aws)
    client.create_load_balancer_listeners(
        LoadBalancerName=name,
        Listeners=[
            {
                "Protocol": "TCP",
                "LoadBalancerPort": 81,
                "InstanceProtocol": "TCP",
                "InstancePort": 30001,
            }
        ],
    )
    client.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=[81])
    assert seen == []  # the first delete is not the second
    client.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=[80])
    assert seen == [{}]  # called once port 80 was gone, before the call returned
    client.create_load_balancer_listeners(
        LoadBalancerName=name,
        Listeners=[
            {
                "Protocol": "HTTP",
                "LoadBalancerPort": 80,
                "InstanceProtocol": "HTTP",
                "InstancePort": 30002,
            }
        ],
    )
    client.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=[80])
    assert len(seen) == 1  # once only


def test_clear_drops_faults_and_pending_callbacks(aws: MotoServer) -> None:
    name = new_elb(aws)
    called: list[int] = []
    aws.faults.transient(1.0)
    aws.faults.refuse("DescribeTags")
    aws.faults.after("DescribeLoadBalancers", lambda: called.append(1))
    aws.faults.clear()
    elb_client(aws).describe_load_balancers(LoadBalancerNames=[name])
    elb_client(aws).describe_tags(LoadBalancerNames=[name])
    assert called == []


def test_the_scenario_helpers_work_through_the_middleware(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
    create_load_balancer("faults-scenario", blue=30011, green=30012)
    assert listener_ports(aws, "faults-scenario") == {80: 30011}


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("codedeploy", lambda client: client.list_applications()),  # JSON protocol
        ("s3", lambda client: client.list_buckets()),  # REST-XML protocol
        ("iam", lambda client: client.list_server_certificates()),  # query protocol
    ],
)
def test_errors_come_in_each_protocols_own_format(
    aws: MotoServer, service: str, call: Callable[[Any], Any]
) -> None:
    make: Any = boto3.client
    client = make(
        service,
        region_name=REGION,
        endpoint_url=aws.url,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    call(client)  # moto answers it
    aws.faults.transient(1.0, seed=2)
    with pytest.raises(ClientError) as failure:
        call(client)
    assert failure.value.response["Error"]["Code"] in ("Throttling", "ServiceUnavailable")
