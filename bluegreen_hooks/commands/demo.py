"""`bluegreen demo`: a whole blue/green story told against an in-process sandbox."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bluegreen_hooks import cli
from bluegreen_hooks.commands.sandbox import require_sandbox_extra

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "triggers-service"
ELB_NAME = "triggers-octoblu-com"
V1, V2 = "1111111aaaaaaaa", "2222222bbbbbbbb"
BROKEN = "broken3cccccccc"


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def bluegreen(config: Path, log_format: str, *argv: str) -> int:
    code = cli.main([*argv, "--config", str(config), "--log-format", log_format])
    print(f"    (exit {code})", flush=True)
    return code


def status(config: Path, log_format: str) -> dict[str, Any]:
    from io import StringIO

    captured, real = StringIO(), sys.stdout
    sys.stdout = captured
    try:
        cli.main(
            ["status", "--output", "json", "--config", str(config), "--log-format", log_format]
        )
    finally:
        sys.stdout = real
    report: dict[str, Any] = json.loads(captured.getvalue())
    active, idle = report["active"], report["idle"]
    print(f"    live: {active['color']} on port {active['port']}, commit {active['commit']}")
    print(f"    idle: {idle['color']} on port {idle['port']}, commit {idle['commit'] or 'none'}")
    return report


def listeners() -> list[tuple[int, int, str | None]]:
    import boto3

    elb: Any = boto3.client("elb")
    found = elb.describe_load_balancers(LoadBalancerNames=[ELB_NAME])["LoadBalancerDescriptions"]
    return [
        (
            d["Listener"]["LoadBalancerPort"],
            d["Listener"]["InstancePort"],
            d["Listener"].get("SSLCertificateId"),
        )
        for d in found[0]["ListenerDescriptions"]
    ]


def run(args: argparse.Namespace) -> int:
    require_sandbox_extra()
    from bluegreen_hooks.sandbox.environment import Sandbox
    from bluegreen_hooks.sandbox.scenario import create_load_balancer, upload_certificate

    log_format = "console" if args.log_format == "auto" else args.log_format
    with tempfile.TemporaryDirectory(prefix="bluegreen-demo-") as folder:
        app = Path(folder) / "triggers-service"
        shutil.copytree(EXAMPLE, app)
        config = app / ".oopsrc"
        settings = json.loads(config.read_text())
        settings["ready-timeout"] = 4
        config.write_text(json.dumps(settings, indent=2))
        with Sandbox(Path(folder) / "sandbox", ready_delay=0.5) as sandbox:
            sandbox.apply_env()
            say("A sandbox: moto server and an emulated Kubernetes API on loopback")
            print(f"    AWS {sandbox.aws.url}, Kubernetes {sandbox.kube.url}")
            say(f"The example app's ELB {ELB_NAME}: HTTP 80 and HTTPS 443 -> blue (30001)")
            certificate = upload_certificate("triggers-octoblu-com")
            create_load_balancer(ELB_NAME, blue=30001, green=30002, certificate=certificate)
            print(f"    tags blue=30001 green=30002; certificate {certificate}")
            checks = _story(config, log_format, certificate)
    failed = [name for name, ok in checks if not ok]
    say("The end" if not failed else f"The story went wrong: {', '.join(failed)}")
    return 1 if failed else 0


def _story(config: Path, log_format: str, certificate: str) -> list[tuple[str, bool]]:
    checks: list[tuple[str, bool]] = []
    say(f"Deploy v1 ({V1[:7]}): to the idle color, wait for Ready, then switch")
    checks.append(("deploy v1", bluegreen(config, log_format, "deploy", "--commit", V1) == 0))
    first = status(config, log_format)
    checks.append(("v1 live", first["active"]["commit"] == V1))

    say(f"Deploy v2 ({V2[:7]}): the other color this time")
    checks.append(("deploy v2", bluegreen(config, log_format, "deploy", "--commit", V2) == 0))
    second = status(config, log_format)
    checks.append(("v2 live", second["active"]["commit"] == V2))
    checks.append(("colors flipped", second["active"]["color"] != first["active"]["color"]))

    say("Oops: roll back to the previous color, whose pods are still Ready")
    checks.append(("rollback", bluegreen(config, log_format, "rollback") == 0))
    checks.append(("v1 live again", status(config, log_format)["active"]["commit"] == V1))

    say(f"A bad release ({BROKEN[:7]}) whose pods never become Ready")
    before = listeners()
    code = bluegreen(config, log_format, "deploy", "--commit", BROKEN)
    after = listeners()
    checks.append(("bad release refused with exit 1", code == 1))
    checks.append(("listeners untouched", before == after))
    print(f"    listeners before: {before}\n    listeners after:  {after}")
    checks.append(("certificate intact", any(c == certificate for _, _, c in after)))
    status(config, log_format)
    return checks
