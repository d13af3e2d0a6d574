"""Argument parsing and dispatch only; every command is a function returning an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from bluegreen_hooks import __version__, errors, logs, signals
from bluegreen_hooks.identity import named_to_aws

HOOK_EVENTS = ("BeforeInstall", "ApplicationStart", "ValidateService")
SWITCHING = (
    "deploy",
    "hook",
    "rollback",
    "repair",
    "preview",
)  # stop only at a switch's safe points
# Commands that set the scene on the emulators: their AWS requests are not the product's.
_SCENE_SETTERS = ("sandbox", "demo")

_EXIT_CODES = """exit codes:
  0    done
  1    deploy or validation failed (traffic stays on a healthy color)
  2    usage or config error (nothing touched)
  3    another deploy holds the lock
  4    inconsistent load-balancer state, e.g. a switch that did not finish (see the fix)
  130  interrupted (SIGINT); a switch first finishes the listener it is moving
  143  terminated (SIGTERM); likewise
"""


def _command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    examples: str,
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"examples:\n{examples}\n\n{_EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=list(parents),
    )
    parser.set_defaults(command=name)
    return parser


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", choices=("text", "json"), default="text", help="text (default) or JSON"
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $BLUEGREEN_CONFIG, else .oopsrc in the bundle root or cwd)",
    )
    common.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default="auto",
        help="log rendering on stderr (default: console on a TTY, JSON lines otherwise)",
    )
    parser = argparse.ArgumentParser(
        prog="bluegreen",
        description=(
            "Blue/green deploys of a Kubernetes application behind an AWS load balancer.\n"
            "A Classic ELB's `blue` and `green` tags hold each color's NodePort (an ALB's name\n"
            "each color's target group); its listeners say which color is live."
        ),
        epilog=(
            "examples:\n"
            "  bluegreen status\n"
            "  bluegreen deploy --commit $(git rev-parse HEAD)\n"
            "  bluegreen rollback\n"
            "  bluegreen demo\n\n"
            "`oops` keeps the seed's habits: oops rollback (= rollback), oops status and\n"
            "oops rollback --current (= status --output oops), oops deploy C (= redeploy C),\n"
            "oops list (= releases), oops preview / oops off (= preview).\n\n" + _EXIT_CODES
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bluegreen {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND", required=True)

    status = _command(
        sub,
        "status",
        "show which color is live, its port and commit (reads the ELB only)",
        "  bluegreen status\n  bluegreen status --output json | jq .active.commit\n"
        "  bluegreen status --output oops   # the seed's shape: active and off (oops status)",
        parents=[common],
    )
    status.add_argument(
        "--output",
        choices=("text", "json", "oops"),
        default="text",
        help="text (default), JSON with active and idle, or the seed's oops JSON (active, off)",
    )

    deploy = _command(
        sub,
        "deploy",
        "release a commit to the idle color, wait until Ready, switch traffic, validate",
        "  bluegreen deploy --commit 0a1b2c3d\n"
        "  bluegreen deploy --commit 0a1b2c3d --config app/.oopsrc --log-format json\n"
        "  bluegreen deploy --commit 0a1b2c3d --steps 10,50,100 --pause 60   # ALB only",
        parents=[common],
    )
    deploy.add_argument("--commit", required=True, help="the release's git SHA")
    deploy.add_argument(
        "--deployment-id", help="identifies this run in logs and the lock (default: cli-<time>)"
    )
    deploy.add_argument(
        "--redeploy",
        action="store_true",
        help="deploy even if this commit is already live (e.g. after a template change)",
    )
    deploy.add_argument(
        "--steps",
        type=_steps,
        default=(),
        help="shift traffic in steps, percent on the new color after each, ending at 100, "
        "e.g. 10,50,100 (Application Load Balancer only)",
    )
    deploy.add_argument(
        "--pause",
        type=_pause,
        default=0.0,
        help="seconds to wait between two steps (default 0)",
    )

    rollback = _command(
        sub,
        "rollback",
        "switch traffic back to the idle color (refused unless all its replicas are Ready"
        " and no deploy is running; behind an ALB/NLB, unless its target group is healthy)",
        "  bluegreen rollback\n  bluegreen rollback --force   # switch even if not Ready",
        parents=[common],
    )
    rollback.add_argument(
        "--force", action="store_true", help="switch even if the idle color is not fully Ready"
    )

    repair = _command(
        sub,
        "repair",
        "finish or undo an interrupted switch, re-create missing listeners as recorded, and point"
        " every listener and the health check at one color (fixes exit 4 states)",
        "  bluegreen repair                # the color whose replicas are all Ready\n"
        "  bluegreen repair --color blue   # this color, without checking readiness",
        parents=[common],
    )
    repair.add_argument(
        "--color",
        choices=("blue", "green"),
        help="the color to point at (default: the fully Ready one, preferring the color an"
        " interrupted switch was moving to; refused when that cannot be told)",
    )

    readiness = _command(
        sub,
        "readiness",
        "show how many replicas of each color are Ready, and who holds the deploy lock",
        "  bluegreen readiness\n  bluegreen readiness --output json",
        parents=[common],
    )
    _add_output(readiness)

    verify = _command(
        sub,
        "verify",
        "run the health gates against the live or idle color by hand; touches nothing",
        "  bluegreen verify                                 # after-switch gates, live color\n"
        "  bluegreen verify --color green --phase before-switch --output json",
        parents=[common],
    )
    verify.add_argument(
        "--color",
        choices=("blue", "green"),
        help="the color to check (default: the live one; the idle one with --phase before-switch)",
    )
    verify.add_argument(
        "--phase",
        choices=("before-switch", "after-switch"),
        help="which gates (default: before-switch for the idle color, after-switch for the"
        " live one); before-switch starts with the structural check of Service and endpoints",
    )
    _add_output(verify)

    unlock = _command(
        sub,
        "unlock",
        "remove the deploy lock left by a deploy that died (its holder stopped renewing it)",
        "  bluegreen unlock\n  bluegreen unlock --force   # even while its deploy still renews it",
        parents=[common],
    )
    unlock.add_argument(
        "--force",
        action="store_true",
        help="remove the lock even if a live deploy holds it (that deploy stops before switching)",
    )

    render = _command(
        sub,
        "render",
        "print the manifests a deploy would apply; touches nothing",
        "  bluegreen render --commit 0a1b2c3d\n  bluegreen render --commit 0a1b2c3d --color blue",
        parents=[common],
    )
    render.add_argument("--commit", required=True, help="the release's git SHA")
    render.add_argument(
        "--color", choices=("blue", "green"), help="color to render (default: the idle one)"
    )

    hook = _command(
        sub,
        "hook",
        "run one CodeDeploy lifecycle hook (what the shims in hooks/ call)",
        "  bluegreen hook BeforeInstall\n"
        "  DEPLOYMENT_ID=d-ABC123 bluegreen hook ApplicationStart   # rerun by hand",
        parents=[common],
    )
    hook.add_argument("event", choices=HOOK_EVENTS)
    hook.add_argument(
        "--bundle-root",
        metavar="DIR",
        help="unpacked bundle (default: $BLUEGREEN_BUNDLE_ROOT, else cwd if it has appspec.yml)",
    )
    hook.add_argument("--commit", help="override the commit found in the bundle or environment")

    sandbox = _command(
        sub,
        "sandbox",
        "run emulated AWS (moto) and Kubernetes on loopback, set up for an application's"
        " config, until SIGINT or SIGTERM",
        "  bluegreen sandbox --app examples/triggers-service &\n"
        "  . sandbox.env && bluegreen status",
        parents=[common],
    )
    sandbox.add_argument(
        "--app",
        metavar="DIR",
        help="create what DIR's config names: load balancers, bucket, CodeDeploy"
        " application and group, namespace (default: the config found as usual, if any)",
    )
    sandbox.add_argument("--env-file", default="sandbox.env", help="where to write the env file")
    sandbox.add_argument(
        "--ready-delay", type=float, default=1.0, help="seconds until a new pod is Ready"
    )
    sandbox.add_argument(
        "--node-address",
        default="auto",
        metavar="IP",
        help="the node's loopback address (its InternalIP), where each NodePort answers HTTP"
        " for its Ready pods (default: one of its own, 127.x.y.z; e.g. 127.0.0.1)",
    )

    bundle = _command(
        sub,
        "bundle",
        "build the CodeDeploy revision of a commit as <app>/<app>-<commit>.zip;"
        " --upload publishes it to s3-bucket",
        "  bluegreen bundle --commit $(git rev-parse HEAD) --upload\n"
        "  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) bluegreen bundle --commit 0a1b2c3d",
        parents=[common],
    )
    bundle.add_argument("--commit", required=True, help="the release's git SHA")
    bundle.add_argument("--out", default="dist", metavar="DIR", help="where to write the zip")
    bundle.add_argument(
        "--upload", action="store_true", help="put it in s3-bucket (skipped if already there)"
    )

    releases = _command(
        sub,
        "releases",
        "list the published releases, newest first, marking the active and idle ones (oops list)",
        "  bluegreen releases\n  bluegreen releases --output json",
        parents=[common],
    )
    _add_output(releases)

    redeploy = _command(
        sub,
        "redeploy",
        "deploy a published release through CodeDeploy and follow it (oops deploy)",
        "  bluegreen redeploy 0a1b2c3            # a full SHA or a unique prefix\n"
        "  bluegreen redeploy 0a1b2c3 --no-wait  # print the deployment id and return",
        parents=[common],
    )
    redeploy.description = (
        "Deploy a published release (<app>/<app>-<commit>.zip in s3-bucket) through CodeDeploy\n"
        "to application-name / deployment-group, print the deployment id, and follow it.\n"
        "Exit 0 only when the deployment Succeeded; 1 when it Failed or was Stopped (naming\n"
        "the failing lifecycle event and the end of its script output); 2 when the commit is\n"
        "unknown or ambiguous (listing the nearest releases); 3 while the group has another\n"
        "deployment active. With --no-wait, 0 once created."
    )
    redeploy.add_argument("commit", help="SHA of a published release, or a unique prefix of one")
    redeploy.add_argument(
        "--no-wait", action="store_true", help="return once the deployment is created"
    )

    _command(
        sub,
        "preview",
        "point the preview load balancer (preview-elb-name) at the idle color"
        " (oops preview, oops off)",
        "  bluegreen preview",
        parents=[common],
    )

    _command(
        sub,
        "demo",
        "tell a whole blue/green story against an in-process sandbox",
        "  bluegreen demo",
        parents=[common],
    )
    return parser


def _runner(name: str) -> Callable[[argparse.Namespace], int]:
    module = import_module(f"bluegreen_hooks.commands.{name}")
    run: Callable[[argparse.Namespace], int] = module.run
    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_format)
    if args.command in SWITCHING:
        signals.install()
    try:
        if args.command in _SCENE_SETTERS:
            return _runner(args.command)(args)
        with named_to_aws():
            return _runner(args.command)(args)
    except errors.BluegreenError as exc:
        return logs.report_failure(exc.message, exc.hint, exc.exit_code)
    except errors.Interrupted as exc:
        return logs.report_failure(exc.message, exc.hint, exc.exit_code)
    except KeyboardInterrupt:
        return logs.report_failure("interrupted", None, errors.INTERRUPTED)
    except Exception as exc:
        from bluegreen_hooks.env_errors import aws_usage_error

        usage = aws_usage_error(exc)
        if usage is not None:
            return logs.report_failure(usage.message, usage.hint, usage.exit_code)
        message = _remote_error(exc)
        if message is None:
            raise
        from bluegreen_hooks.endpoints import refused_hint

        return logs.report_failure(message, refused_hint(exc), errors.FAILED)


def _remote_error(exc: Exception) -> str | None:
    """AWS and Kubernetes errors become one line; anything else is a bug and keeps its traceback."""
    module = type(exc).__module__
    if module.startswith(("botocore", "boto3")):
        return f"AWS: {exc}"
    if module.startswith(("kubernetes", "urllib3")):
        from bluegreen_hooks.kube import describe_api_error

        status = getattr(exc, "status", None)
        detail = describe_api_error(exc) if status is not None else str(exc)  # type: ignore[arg-type]
        return f"Kubernetes: {detail}"
    return None


if __name__ == "__main__":
    sys.exit(main())


def _steps(value: str) -> tuple[int, ...]:
    """`--steps 10,50,100`: rising percentages, the last 100."""
    parts = [part.strip() for part in value.split(",")]
    if not all(part.isdigit() and 0 < int(part) <= 100 for part in parts):
        raise argparse.ArgumentTypeError(
            f"{value[:100]!r}: expected percentages from 1 to 100 separated by commas, "
            "e.g. 10,50,100"
        )
    steps = tuple(int(part) for part in parts)
    if list(steps) != sorted(set(steps)) or steps[-1] != 100:
        raise argparse.ArgumentTypeError(
            f"{value[:100]!r}: the steps must rise and end at 100, e.g. 10,50,100"
        )
    return steps


def _pause(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value[:100]!r}: expected seconds from 0 to 3600")
    return seconds
