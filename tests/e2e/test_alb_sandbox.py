"""`bluegreen sandbox --app` for an app whose config names an Application Load Balancer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_sandbox_command import (  # noqa: F401 (fixtures)
    Running,
    clean_env,
    example,
    start,
)


def test_the_sandbox_creates_an_alb_with_a_target_group_per_color(
    example: Path,  # noqa: F811
    tmp_path: Path,
    running_sandboxes: list[Running],
) -> None:
    settings = json.loads((example / ".oopsrc").read_text())
    settings.update({"load-balancer-type": "application", "elb-name": "triggers-alb"})
    settings.pop("preview-elb-name")
    (example / ".oopsrc").write_text(json.dumps(settings))
    sandbox = start("--app", str(example), cwd=tmp_path)
    running_sandboxes.append(sandbox)

    elbv2 = sandbox.boto("elbv2")
    [balancer] = elbv2.describe_load_balancers(Names=["triggers-alb"])["LoadBalancers"]
    tags = elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"]
    named = {t["Key"]: t["Value"] for t in tags[0]["Tags"]}
    groups = elbv2.describe_target_groups(Names=[named["blue"], named["green"]])["TargetGroups"]
    ports = {g["TargetGroupName"]: g["Port"] for g in groups}
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])
    by_port = {listener["Port"]: listener for listener in listeners["Listeners"]}
    blue = next(g["TargetGroupArn"] for g in groups if g["TargetGroupName"] == named["blue"])
    health = elbv2.describe_target_health(TargetGroupArn=blue)["TargetHealthDescriptions"]
    status = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "status"],
        env=clean_env(**sandbox.env),
        cwd=example,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert balancer["Type"] == "application"
    assert ports == {named["blue"]: 30001, named["green"]: 30002}
    assert sorted(by_port) == [80, 443]
    assert by_port[443]["Protocol"] == "HTTPS" and by_port[443]["Certificates"]
    assert {by_port[p]["DefaultActions"][0]["TargetGroupArn"] for p in by_port} == {blue}
    assert health and {h["TargetHealth"]["State"] for h in health} == {"healthy"}
    assert status.returncode == 0, status.stderr
    assert "active  blue   port 30001" in status.stdout
