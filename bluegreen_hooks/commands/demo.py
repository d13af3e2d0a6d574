"""`bluegreen demo`: a whole blue/green story told against an in-process sandbox.

Every step is a real command, echoed before it runs (`$ bluegreen deploy --commit ...`), so
the demo also teaches the CLI; the story checks what each step did and fails if it went wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

from bluegreen_hooks import cli, oops
from bluegreen_hooks.commands.sandbox import require_sandbox_extra
from bluegreen_hooks.config import CONFIG_ENV

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "triggers-service"
ELB_NAME = "triggers-octoblu-com"
ALB_NAME = "triggers-octoblu-com-alb"
V1, V2, V3 = "1111111aaaaaaaa", "2222222bbbbbbbb", "3333333dddddddd"
BROKEN = "broken3cccccccc"
UNHEALTHY = "unhealthy4eeeee"  # the sandbox's pods of this image turn Ready, then answer 500
# The default gate (the health-check path, 3 answers in a row), giving up after 3 s, not 60.
DEMO_GATES = {
    "before-switch": [
        {"http": {"path": "/healthcheck", "successes": 3, "timeout": 3, "interval": 0.2}}
    ]
}

Checks = list[tuple[str, bool]]


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def note(text: str) -> None:
    print(f"    {text}", flush=True)


class Shell:
    """Runs `bluegreen` commands in this process, echoing each one as a person would type it."""

    def __init__(self, log_format: str) -> None:
        self.log_format = log_format

    def run(self, *argv: str) -> int:
        print(f"$ bluegreen {' '.join(argv)}", flush=True)
        return self._done(cli.main([*argv, "--log-format", self.log_format]))

    def oops(self, *argv: str) -> int:
        print(f"$ oops {' '.join(argv)}", flush=True)
        return self._done(oops.main([*argv, "--log-format", self.log_format]))

    def _done(self, code: int) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        if code:
            note(f"(exit {code})")
        return code

    def status(self, output: str = "json") -> dict[str, Any]:
        """`bluegreen status --output json` (or `oops`), read quietly for the story's checks."""
        captured = StringIO()
        with redirect_stdout(captured):
            cli.main(["status", "--output", output, "--log-format", self.log_format])
        report: dict[str, Any] = json.loads(captured.getvalue())
        return report


def describe(found: list[tuple[int, int, str | None]]) -> str:
    """`80 -> 30002, 443 -> 30002 (certificate triggers-octoblu-com)`."""
    return ", ".join(
        f"{port} -> {instance_port}" + (f" (certificate {cert.rsplit('/', 1)[-1]})" if cert else "")
        for port, instance_port, cert in found
    )


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
    from bluegreen_hooks.config import load_config
    from bluegreen_hooks.sandbox.environment import Sandbox
    from bluegreen_hooks.sandbox.scenario import set_up_app

    shell = Shell("console" if args.log_format == "auto" else args.log_format)
    started_in = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bluegreen-demo-") as folder:
        app = Path(folder) / "triggers-service"
        shutil.copytree(EXAMPLE, app)
        config = app / ".oopsrc"
        settings = json.loads(config.read_text())
        settings["ready-timeout"] = 4
        settings["gates"] = DEMO_GATES
        config.write_text(json.dumps(settings, indent=2))
        with Sandbox(Path(folder) / "sandbox", ready_delay=0.5, agent=True) as sandbox:
            sandbox.apply_env()
            os.environ[CONFIG_ENV] = str(config)  # as `. sandbox.env` does after `--app`
            say("A sandbox: moto server, an emulated Kubernetes API and CodeDeploy agent")
            note(f"AWS {sandbox.aws.url}, Kubernetes {sandbox.kube.url}")
            note("set up as `bluegreen sandbox --app examples/triggers-service` does:")
            set_up_app(load_config(config), sandbox.kubeconfig, _created)
            os.chdir(app)  # `bluegreen bundle` writes dist/ here, not where the demo started
            try:
                checks = (
                    _story(shell, sandbox.node_address) + _gate_story(shell) + _release_story(shell)
                )
                checks += _alb_story(shell, _alb_app(Path(folder), sandbox.kubeconfig))
            finally:
                os.chdir(started_in)
    failed = [name for name, ok in checks if not ok]
    say("The end" if not failed else f"The story went wrong: {', '.join(failed)}")
    return 1 if failed else 0


def _alb_app(folder: Path, kubeconfig: Path) -> Path:
    """The same app in its own namespace behind an Application Load Balancer; its config."""
    from bluegreen_hooks.sandbox.scenario import (
        create_application_load_balancer,
        create_namespace,
        upload_certificate,
    )

    app = folder / "triggers-service-alb"
    shutil.copytree(EXAMPLE, app)
    config = app / ".oopsrc"
    settings = json.loads(config.read_text())
    for key in ("preview-elb-name", "s3-bucket", "deployment-group"):
        settings.pop(key, None)
    settings.update(
        {
            "elb-name": ALB_NAME,
            "load-balancer-type": "application",
            "namespace": "alb",
            "ready-timeout": 4,
        }
    )
    config.write_text(json.dumps(settings, indent=2))
    say("The same app behind an Application Load Balancer: a target group per color")
    certificate = upload_certificate(ALB_NAME)
    create_application_load_balancer(ALB_NAME, blue=30011, green=30012, certificate=certificate)
    _created("application load balancer created", name=ALB_NAME, blue=30011, green=30012)
    create_namespace("alb", kubeconfig)
    return config


def alb_forwards() -> str:
    """`80 -> blue 50% green 50%, 443 -> green (certificate kept)`."""
    import boto3

    elbv2: Any = boto3.client("elbv2")
    arn = elbv2.describe_load_balancers(Names=[ALB_NAME])["LoadBalancers"][0]["LoadBalancerArn"]
    parts = []
    for listener in elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
        [forward] = [a for a in listener["DefaultActions"] if a["Type"] == "forward"]
        groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": forward["TargetGroupArn"], "Weight": 1}
        ]
        total = sum(g["Weight"] for g in groups)
        where = " ".join(
            f"{g['TargetGroupArn'].split('/')[-2].rsplit('-', 1)[-1]} "
            f"{round(100 * g['Weight'] / total)}%"
            for g in groups
        )
        kept = " (certificate kept)" if listener.get("Certificates") else ""
        parts.append(f"{listener['Port']} -> {where}{kept}")
    return ", ".join(parts)


def _alb_story(shell: Shell, config: Path) -> Checks:
    checks: Checks = []
    os.environ[CONFIG_ENV] = str(config)
    checks.append(("alb status", shell.run("status") == 0))
    note(f"listeners: {alb_forwards()}")

    say(f"Deploy v1 ({V1[:7]}) behind it: one ModifyListener per listener, all at once")
    checks.append(("alb deploy v1", shell.run("deploy", "--commit", V1) == 0))
    note(f"listeners: {alb_forwards()}")

    say(f"Deploy v2 ({V2[:7]}) in steps: 10%, 50%, then all of the traffic, each step checked")
    note("(each listener's forward action is weighted in place: never a moment without one)")
    checks.append(
        (
            "alb deploy in steps",
            shell.run("deploy", "--commit", V2, "--steps", "10,50,100", "--pause", "1") == 0,
        )
    )
    note(f"listeners: {alb_forwards()}")
    checks.append(("alb v2 live", shell.status()["active"]["commit"] == V2))

    say("Oops behind the ALB: the idle color's target health is AWS's word, one call a listener")
    checks.append(("alb rollback", shell.run("rollback") == 0))
    note(f"listeners: {alb_forwards()}")
    shell.run("status")
    checks.append(("alb v1 live again", shell.status()["active"]["commit"] == V1))
    return checks


def _created(event: str, **fields: object) -> None:
    note(f"{event}: " + ", ".join(f"{k} {v}" for k, v in fields.items()))


def ask(node: str, port: int, path: str) -> tuple[int, dict[str, Any]]:
    """GET a color's NodePort on the node, as the load balancer's health check would."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{node}:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _story(shell: Shell, node: str) -> Checks:
    checks: Checks = []
    say("Which color is live? The ELB's listeners say blue; its tags hold both ports")
    checks.append(("status", shell.run("status") == 0))

    say(f"Deploy v1 ({V1[:7]}): to the idle color, wait for Ready, then switch")
    checks.append(("deploy v1", shell.run("deploy", "--commit", V1) == 0))
    shell.run("status")
    first = shell.status()
    checks.append(("v1 live", first["active"]["commit"] == V1))

    say(f"Deploy v2 ({V2[:7]}): the other color this time")
    checks.append(("deploy v2", shell.run("deploy", "--commit", V2) == 0))
    shell.run("status")
    second = shell.status()
    checks.append(("v2 live", second["active"]["commit"] == V2))
    checks.append(("colors flipped", second["active"]["color"] != first["active"]["color"]))
    port = second["active"]["port"]
    code, answer = ask(node, port, "/healthcheck")
    note(
        f"GET http://{node}:{port}/healthcheck -> {code} from pod {answer.get('pod')}, "
        f"image {answer.get('image')}"
    )
    checks.append(("v2 answers on its NodePort", code == 200 and answer["image"].endswith(V2)))

    say("Oops: roll back to the previous color, whose pods are still Ready")
    checks.append(("rollback", shell.run("rollback") == 0))
    shell.run("status")
    checks.append(("v1 live again", shell.status()["active"]["commit"] == V1))

    say(f"A bad release ({BROKEN[:7]}) whose pods never become Ready")
    before = listeners()
    code = shell.run("deploy", "--commit", BROKEN)
    after = listeners()
    checks.append(("bad release refused with exit 1", code == 1))
    checks.append(("listeners untouched", before == after))
    note(f"listeners before: {describe(before)}")
    note(f"listeners after:  {describe(after)}")
    checks.append(("certificate intact", all(c for port, _, c in after if port == 443)))
    shell.run("status")
    return checks


def _gate_story(shell: Shell) -> Checks:
    """A release whose pods are Ready but unhealthy: the before-switch gate keeps it off."""
    checks: Checks = []
    say(f"A release ({UNHEALTHY}) whose pods turn Ready but whose health check answers 500")
    note("readiness alone would switch to it; the gate asks its /healthcheck through the")
    note("NodePort first (3 answers in a row; this demo's config gives up after 3 s)")
    idle = shell.status()["idle"]["color"]
    before = listeners()
    code = shell.run("deploy", "--commit", UNHEALTHY)
    after = listeners()
    checks.append(("unhealthy release stopped by its gate with exit 1", code == 1))
    checks.append(("listeners untouched by the unhealthy release", before == after))
    note(f"listeners after:  {describe(after)}")
    say("Ask the gates by hand, touching nothing: the idle color fails, the live one passes")
    checks.append(("verify idle fails", shell.run("verify", "--color", idle) == 1))
    checks.append(
        (
            "verify live passes",
            shell.run(
                "verify", "--phase", "before-switch", "--color", shell.status()["active"]["color"]
            )
            == 0,
        )
    )
    return checks


def _release_story(shell: Shell) -> Checks:
    """The seed's release path: a bundle in S3, deployed through CodeDeploy, and `oops`."""
    checks: Checks = []
    say(f"Publish release {V3[:7]}: the zip CodeDeploy unpacks (appspec.yml, hooks, config,")
    note("templates, RELEASE), uploaded to the bucket as <app>/<app>-<commit>.zip")
    checks.append(("bundle uploaded", shell.run("bundle", "--commit", V3, "--upload") == 0))
    checks.append(("releases listed", shell.oops("list") == 0))

    say("Deploy it through CodeDeploy: the sandbox's agent runs the hooks from the bundle")
    checks.append(("oops deploy", shell.oops("deploy", V3[:7]) == 0))
    checks.append(("oops status", shell.oops("status") == 0))
    checks.append((f"{V3[:7]} live", shell.status()["active"]["commit"] == V3))
    shell.oops("list")

    say(f"Oops: back to {V1[:7]}, still Ready on the other color")
    checks.append(("oops rollback", shell.oops("rollback") == 0))
    checks.append(("rolled back", shell.status()["active"]["commit"] == V1))

    say(f"Try {V3[:7]} before it takes traffic again: the preview load balancer on the idle color")
    checks.append(("oops preview", shell.oops("preview") == 0))
    preview = shell.status("oops").get("preview") or {}
    checks.append(("preview on the idle color", preview.get("commit") == V3))
    return checks
