"""Error types and the exit codes they map to, in one place."""

from __future__ import annotations

from typing import ClassVar

OK = 0
FAILED = 1
USAGE = 2
LOCKED = 3
INCONSISTENT = 4
INTERRUPTED = 130
TERMINATED = 143


class BluegreenError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code: ClassVar[int] = FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class UsageError(BluegreenError):
    """Bad arguments or environment; nothing was touched."""

    exit_code = USAGE


class ConfigError(UsageError):
    """The config file is missing, unreadable or invalid."""


class TemplateError(UsageError):
    """A template is missing, has an unknown variable, or renders an unsupported object."""


class DeployFailed(BluegreenError):
    """A deploy step failed; traffic stays on a healthy color."""


class ValidationFailed(DeployFailed):
    """The router or the workload is not what the plan says."""


class GateFailed(DeployFailed):
    """A health gate failed: before the switch nothing moved; after it, see the message."""


class LockHeld(BluegreenError):
    """Another deploy holds the application's lock."""

    exit_code = LOCKED


class InconsistentState(BluegreenError):
    """The load balancer's tags or listeners do not describe a blue/green pair."""

    exit_code = INCONSISTENT


class Interrupted(BaseException):
    """SIGINT: the run stopped at a safe point (never between a listener's delete and create).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it.
    """

    exit_code: ClassVar[int] = INTERRUPTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Terminated(Interrupted):
    """SIGTERM (CodeDeploy's hook timeout, a host shutting down), stopped at a safe point."""

    exit_code = TERMINATED
