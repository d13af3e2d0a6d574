"""The environment's errors as config errors (exit 2, nothing touched), each with its fix:
no AWS region, an unknown profile, no credentials, an unusable kubeconfig.

Nothing here imports botocore or the Kubernetes client: errors are recognised by name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bluegreen_hooks.errors import UsageError
from bluegreen_hooks.yaml_errors import yaml_problem_at

# CodeDeploy's ids are d-XXXXXXXXX; ours cli-<time>. The id names the plan file beside the
# bundle and the lock's holder, so nothing that could climb out of a folder gets through.
_DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

_REGION_FIX = (
    'add "region": "us-west-2" (your region) to the .oopsrc, or export AWS_REGION=us-west-2,'
    " or set region in your AWS profile (aws configure)"
)


def check_deployment_id(value: str, origin: str) -> str:
    """A deployment id from the environment or a flag: letters, digits, '.', '_', '-'."""
    if not _DEPLOYMENT_ID.fullmatch(value):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise UsageError(
            f"{origin} {shown!r} is not a deployment id (letters, digits, '.', '_', '-',"
            " at most 128)",
            hint="CodeDeploy sets DEPLOYMENT_ID to d-XXXXXXXXX; unset it to get a new id",
        )
    return value


def require_aws_region(config_arg: str | None) -> None:
    """Refuse (exit 2) when no region is configured anywhere, before anything is started.

    The environment answers at once; otherwise the config's `region`, then botocore's own
    lookup (profile, config file), exactly where a client would look.
    """
    if os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"):
        return
    from bluegreen_hooks.config import find_config, load_config

    config = load_config(find_config(config_arg))
    if config.region:
        return
    import botocore.session

    try:
        if botocore.session.Session().get_config_variable("region"):
            return
    except Exception as exc:  # a missing profile or an unreadable ~/.aws/config
        usage = aws_usage_error(exc)
        if usage is None:
            raise
        raise usage from None
    raise UsageError(
        "no AWS region: the config has no 'region', and neither AWS_REGION,"
        " AWS_DEFAULT_REGION nor the AWS profile names one",
        hint=f'add "region": "us-west-2" (your region) to {config.path}, or export'
        " AWS_REGION=us-west-2",
    )


def aws_usage_error(exc: Exception) -> UsageError | None:
    """botocore's errors about the environment (not about a request), with the fix; else None."""
    if isinstance(exc, ValueError) and _raised_in_botocore(exc):
        # botocore checks AWS_ENDPOINT_URL, AWS_MAX_ATTEMPTS, ... with plain ValueErrors
        return UsageError(
            f"AWS settings: {str(exc)[:200]}",
            hint="check the AWS_* environment variables (AWS_ENDPOINT_URL must be a URL such"
            " as https://host:port) and ~/.aws/config",
        )
    if not type(exc).__module__.startswith("botocore"):
        return None
    name = type(exc).__name__
    if name == "NoRegionError":
        return UsageError(
            "no AWS region: the config has no 'region', and neither AWS_REGION,"
            " AWS_DEFAULT_REGION nor the AWS profile names one",
            hint=_REGION_FIX,
        )
    if name == "InvalidRegionError":
        return UsageError(f"AWS: {exc}", hint=_REGION_FIX)
    if name == "ProfileNotFound":
        profile = getattr(exc, "kwargs", {}).get("profile") or os.environ.get("AWS_PROFILE")
        return UsageError(
            f"AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials",
            hint=f"unset AWS_PROFILE, or create it: aws configure --profile {profile}",
        )
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return UsageError(
            f"AWS: {exc} (looked in the environment, the AWS profile and the instance role)",
            hint="export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set AWS_PROFILE",
        )
    if name == "ConfigParseError":
        return UsageError(f"AWS: {exc}", hint="fix or move that file (it is INI: [profile x])")
    return None


def _raised_in_botocore(exc: BaseException) -> bool:
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    module = "" if frame is None else str(frame.tb_frame.f_globals.get("__name__", ""))
    return module.startswith(("botocore", "boto3"))


def default_kubeconfig() -> str:
    """What the Kubernetes client reads: $KUBECONFIG (a ':'-separated list) or ~/.kube/config."""
    return os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())


def kubeconfig_exists(kubeconfig: str) -> bool:
    return any(Path(p).expanduser().exists() for p in kubeconfig.split(os.pathsep) if p)


def kubeconfig_error(exc: BaseException, kubeconfig: str) -> UsageError:
    """An unusable kubeconfig, named, with a short reason that never quotes its content."""
    return UsageError(
        f"cannot use the kubeconfig {kubeconfig}: {_kubeconfig_problem(exc)}",
        hint="point KUBECONFIG at a working kubeconfig (check it with kubectl config view)",
    )


def no_kubeconfig(kubeconfig: str) -> UsageError:
    return UsageError(
        f"no kubeconfig at {kubeconfig}, and not running inside a cluster",
        hint="set KUBECONFIG to the kubeconfig of your cluster",
    )


def _kubeconfig_problem(exc: BaseException) -> str:
    where = yaml_problem_at(exc)
    if where is not None:  # a YAML error: its text would quote the file (tokens too)
        return f"invalid YAML at {where}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if type(exc).__name__ == "ConfigException":
        return str(exc)[:200]
    return "not a kubeconfig (unexpected structure)"
