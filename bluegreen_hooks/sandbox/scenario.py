"""Set the scene on the emulated AWS and Kubernetes: what an application's config names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bluegreen_hooks.config import Config
from bluegreen_hooks.sandbox.environment import REGION  # the region its clients default to

BLUE_PORT, GREEN_PORT = 30001, 30002
PREVIEW_PORT = 30000  # a fresh preview load balancer forwards to neither color
CODEDEPLOY_ROLE = "bluegreen-sandbox-codedeploy"

Report = Callable[..., None]  # (event, **fields): one line per thing created


def upload_certificate(name: str, *, region: str = REGION) -> str:
    """A server certificate in (emulated) IAM; returns its ARN."""
    iam: Any = boto3.client("iam", region_name=region)
    found = iam.upload_server_certificate(
        ServerCertificateName=name,
        CertificateBody="-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n",
        PrivateKey="-----BEGIN PRIVATE KEY-----\nsandbox\n-----END PRIVATE KEY-----\n",
    )
    return str(found["ServerCertificateMetadata"]["Arn"])


def create_load_balancer(
    name: str,
    *,
    blue: int = BLUE_PORT,
    green: int = GREEN_PORT,
    certificate: str | None = None,
    region: str = REGION,
    forward_to: int | None = None,
    tagged: bool = True,
) -> None:
    """HTTP 80 and (with a certificate) HTTPS 443 forwarding to `forward_to` (default: blue);
    tags blue/green unless not `tagged`."""
    elb: Any = boto3.client("elb", region_name=region)
    port = forward_to or blue
    listeners: list[dict[str, Any]] = [
        {
            "Protocol": "HTTP",
            "LoadBalancerPort": 80,
            "InstanceProtocol": "HTTP",
            "InstancePort": port,
        }
    ]
    if certificate:
        listeners.append(
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstanceProtocol": "HTTP",
                "InstancePort": port,
                "SSLCertificateId": certificate,
            }
        )
    elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=listeners,
        AvailabilityZones=[f"{region}a"],
        **(
            {"Tags": [{"Key": "blue", "Value": str(blue)}, {"Key": "green", "Value": str(green)}]}
            if tagged
            else {}
        ),
    )


def target_group_name(balancer: str, color: str) -> str:
    """`<balancer>-<color>`, the balancer's name cut to fit the 32 characters of a group's."""
    return f"{balancer[: 31 - len(color)].rstrip('-')}-{color}"


def create_application_load_balancer(
    name: str,
    *,
    blue: int = BLUE_PORT,
    green: int = GREEN_PORT,
    certificate: str | None = None,
    region: str = REGION,
    kind: str = "application",
    nodes: int = 2,
) -> dict[str, str]:
    """An ALB (or NLB) with a target group per color (`<name>-blue` on the blue NodePort,
    `<name>-green`), `nodes` EC2 instances registered in both, listeners HTTP 80 and (with a
    certificate) HTTPS 443 forwarding to blue, and the tags naming the groups; returns the ARNs
    by role ("balancer", "blue", "green", "vpc")."""
    ec2: Any = boto3.client("ec2", region_name=region)
    elbv2: Any = boto3.client("elbv2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    balancer = elbv2.create_load_balancer(Name=name, Subnets=subnets, Type=kind)
    arns = {"balancer": balancer["LoadBalancers"][0]["LoadBalancerArn"], "vpc": vpc}
    instances = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=nodes, MaxCount=nodes, SubnetId=subnets[0]
    )["Instances"]
    protocol = "HTTP" if kind == "application" else "TCP"
    for color, port in (("blue", blue), ("green", green)):
        group = elbv2.create_target_group(
            Name=target_group_name(name, color),
            Protocol=protocol,
            Port=port,
            VpcId=vpc,
            TargetType="instance",
        )["TargetGroups"][0]
        arns[color] = group["TargetGroupArn"]
        elbv2.register_targets(
            TargetGroupArn=group["TargetGroupArn"],
            Targets=[{"Id": i["InstanceId"], "Port": port} for i in instances],
        )
    forward = [{"Type": "forward", "TargetGroupArn": arns["blue"]}]
    elbv2.create_listener(
        LoadBalancerArn=arns["balancer"], Protocol=protocol, Port=80, DefaultActions=forward
    )
    if certificate:
        elbv2.create_listener(
            LoadBalancerArn=arns["balancer"],
            Protocol="HTTPS" if kind == "application" else "TLS",
            Port=443,
            Certificates=[{"CertificateArn": certificate}],
            SslPolicy="ELBSecurityPolicy-TLS-1-2-2017-01",
            DefaultActions=forward,
        )
    elbv2.add_tags(
        ResourceArns=[arns["balancer"]],
        Tags=[
            {"Key": "blue", "Value": target_group_name(name, "blue")},
            {"Key": "green", "Value": target_group_name(name, "green")},
        ],
    )
    return arns


def create_bucket(name: str, *, region: str = REGION) -> None:
    s3: Any = boto3.client("s3", region_name=region)
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": location} if location else {}))


def create_codedeploy(application: str, group: str, *, region: str = REGION) -> str:
    """The CodeDeploy application and deployment group, with a service role; returns its ARN."""
    iam: Any = boto3.client("iam", region_name=region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codedeploy.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role = iam.get_role(RoleName=CODEDEPLOY_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName=CODEDEPLOY_ROLE, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    codedeploy: Any = boto3.client("codedeploy", region_name=region)
    codedeploy.create_application(applicationName=application, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=application,
        deploymentGroupName=group,
        serviceRoleArn=role,
        deploymentConfigName="CodeDeployDefault.OneAtATime",
    )
    return str(role)


def create_namespace(name: str, kubeconfig: Path) -> bool:
    """The namespace on the (emulated) Kubernetes API, through the official client; False if
    it was there already."""
    from kubernetes import config as kube_config

    from bluegreen_hooks.kube_rest import Rest

    loader: Any = kube_config
    rest = Rest(loader.new_client_from_config(config_file=str(kubeconfig)))
    if rest.find(f"/api/v1/namespaces/{name}") is not None:
        return False
    rest.create("/api/v1/namespaces", {"metadata": {"name": name}})
    return True


def set_up_app(config: Config, kubeconfig: Path, report: Report) -> None:
    """Everything the config names: the load balancer (blue live, idle green) with HTTP 80 and
    HTTPS 443, the preview load balancer (on neither color yet), the S3 bucket, the CodeDeploy
    application and deployment group, and the namespace."""
    region = config.region or REGION
    certificate = upload_certificate(config.elb_name, region=region)
    if config.load_balancer_type == "classic":
        create_load_balancer(config.elb_name, certificate=certificate, region=region)
    else:
        create_application_load_balancer(
            config.elb_name,
            certificate=certificate,
            region=region,
            kind=config.load_balancer_type,
        )
    report(
        "load balancer created"
        if config.load_balancer_type == "classic"
        else f"{config.load_balancer_type} load balancer created",
        name=config.elb_name,
        live="blue",
        blue=BLUE_PORT,
        green=GREEN_PORT,
        listeners=[80, 443],
    )
    if config.preview_elb_name:
        create_load_balancer(
            config.preview_elb_name,
            certificate=certificate,
            region=region,
            forward_to=PREVIEW_PORT,
            tagged=False,
        )
        report(
            "preview load balancer created",
            name=config.preview_elb_name,
            on="neither color yet",
        )
    if config.s3_bucket:
        create_bucket(config.s3_bucket, region=region)
        report("bucket created", bucket=config.s3_bucket)
    if config.deployment_group:
        create_codedeploy(config.application_name, config.deployment_group, region=region)
        report(
            "CodeDeploy application created",
            application=config.application_name,
            deployment_group=config.deployment_group,
        )
    if create_namespace(config.namespace, kubeconfig):
        report("namespace created", namespace=config.namespace)
