"""Set the scene on the emulated AWS: a certificate and a Classic ELB tagged blue/green."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-west-2"


def upload_certificate(name: str) -> str:
    """A server certificate in (emulated) IAM; returns its ARN."""
    iam: Any = boto3.client("iam", region_name=REGION)
    found = iam.upload_server_certificate(
        ServerCertificateName=name,
        CertificateBody="-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n",
        PrivateKey="-----BEGIN PRIVATE KEY-----\nsandbox\n-----END PRIVATE KEY-----\n",
    )
    return str(found["ServerCertificateMetadata"]["Arn"])


def create_load_balancer(
    name: str, *, blue: int = 30001, green: int = 30002, certificate: str | None = None
) -> None:
    """HTTP 80 and (with a certificate) HTTPS 443 forwarding to the blue port; tags blue/green."""
    elb: Any = boto3.client("elb", region_name=REGION)
    listeners: list[dict[str, Any]] = [
        {
            "Protocol": "HTTP",
            "LoadBalancerPort": 80,
            "InstanceProtocol": "HTTP",
            "InstancePort": blue,
        }
    ]
    if certificate:
        listeners.append(
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstanceProtocol": "HTTP",
                "InstancePort": blue,
                "SSLCertificateId": certificate,
            }
        )
    elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=listeners,
        AvailabilityZones=[f"{REGION}a"],
        Tags=[{"Key": "blue", "Value": str(blue)}, {"Key": "green", "Value": str(green)}],
    )
