"""Logging setup: JSON lines when stderr is not a TTY, readable console output when it is.

structlog is imported on first use, so a command that logs nothing (`status`) pays nothing.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

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


def _stream() -> TextIO:
    chosen = _settings["stream"]
    return chosen if chosen is not None else sys.stderr  # type: ignore[return-value]


def _use_console(out: TextIO) -> bool:
    log_format = _settings["format"]
    return log_format == "console" or (log_format == "auto" and out.isatty())


def _ensure_configured() -> None:
    global _configured
    if _configured:
        return
    import logging

    import structlog

    out = _stream()
    use_console = _use_console(out)
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    if use_console:
        processors += [
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            _context_last,
            structlog.dev.ConsoleRenderer(colors=out.isatty(), sort_keys=False),
        ]
    else:
        processors += [
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**_pending)
    _pending.clear()
    _configured = True


def _context_last(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """On a terminal, what a line says comes before the run context every line repeats."""
    import structlog

    context = structlog.contextvars.get_contextvars()
    own = {k: v for k, v in event_dict.items() if k not in context or context[k] != v}
    return {**own, **{k: v for k, v in event_dict.items() if k not in own}}


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
    """Say why the run failed (and the fix, when known); returns the exit code.

    A person gets two plain lines; a log collector gets one JSON line with the run context.
    """
    out = _stream()
    if _use_console(out):
        print(f"error: {message}" + (f"\n  fix: {hint}" if hint else ""), file=out, flush=True)
    else:
        get_logger().error(message, fix=hint, exit_code=exit_code)
    return exit_code
