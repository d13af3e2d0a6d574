"""Logging setup: JSON lines when stderr is not a TTY, readable console output when it is.

structlog is imported on first use, so a command that logs nothing (`status`) pays nothing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

LogFormat = Literal["auto", "json", "console"]

_settings: dict[str, object] = {"format": "auto", "stream": None}
_pending: dict[str, object] = {}
_configured = False


def configure(log_format: LogFormat = "auto", *, stream: TextIO | None = None) -> None:
    """Choose the rendering; the logger itself is built when first needed."""
    global _configured
    _settings.update(format=log_format, stream=stream)
    _pending.clear()
    _configured = False


def _ensure_configured() -> None:
    global _configured
    if _configured:
        return
    import logging

    import structlog

    chosen = _settings["stream"]
    out: TextIO = chosen if chosen is not None else sys.stderr  # type: ignore[assignment]
    log_format = _settings["format"]
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
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**_pending)
    _pending.clear()
    _configured = True


def bind(**context: object) -> None:
    """Attach run context (application, deployment id, colors, step) to every later line."""
    if not _configured:
        _pending.update(context)
        return
    import structlog

    structlog.contextvars.bind_contextvars(**context)


def get_logger() -> FilteringBoundLogger:
    _ensure_configured()
    import structlog

    logger: FilteringBoundLogger = structlog.get_logger()
    return logger


def report_failure(message: str, hint: str | None, exit_code: int) -> int:
    """Log why the run failed (with the fix, when known) and return its exit code."""
    get_logger().error(message, fix=hint, exit_code=exit_code)
    return exit_code
