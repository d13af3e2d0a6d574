"""Logging setup: JSON lines when stderr is not a TTY, readable console output when it is."""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["auto", "json", "console"]


def configure(log_format: LogFormat = "auto", *, stream: TextIO | None = None) -> None:
    """Configure structlog once, rendering to the stream whose TTY-ness was checked."""
    structlog.contextvars.clear_contextvars()
    out = stream if stream is not None else sys.stderr
    use_console = log_format == "console" or (log_format == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def bind(**context: object) -> None:
    """Attach run context (application, deployment id, colors, step) to every later line."""
    structlog.contextvars.bind_contextvars(**context)


def get_logger() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger()  # type: ignore[no-any-return]


def report_failure(message: str, hint: str | None, exit_code: int) -> int:
    """Log why the run failed (with the fix, when known) and return its exit code."""
    get_logger().error(message, fix=hint, exit_code=exit_code)
    return exit_code
