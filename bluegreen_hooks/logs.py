"""Logging setup: JSON lines when stderr is not a TTY, readable console output when it is.

JSON lines carry every field, the bound run context included, on every line; the console
shows that context once (and again when it changes), then one short line per event.

structlog is imported on first use, so a command that logs nothing (`status`) pays nothing.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import MutableMapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger, Processor

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

    structlog = _import_structlog()

    out = _stream()
    use_console = _use_console(out)
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    if use_console:
        processors += [
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            ConsoleLines(),
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


# Context keys `describe_context` words itself; `step` leads each line instead.
_CONTEXT_KEYS = (
    "application",
    "deployment_id",
    "lifecycle_event",
    "old_color",
    "new_color",
    "commit",
)
_STEP = "step"


class ConsoleLines:
    """A person's view: one short line per event, the run context only when it changes.

    `12:00:01 switch: listener switched listener=80 instance_port=30002`, preceded by
    `-- triggers-service, deployment d-1, blue -> green, commit 0a1b2c3` when the bound
    context (application, deployment id, colors, commit, ...) differs from the last one shown.
    """

    def __init__(self) -> None:
        self._shown: dict[str, Any] | None = None

    def __call__(self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> str:
        import structlog

        bound = structlog.contextvars.get_contextvars()
        context = {k: v for k, v in bound.items() if k != _STEP and v is not None}
        fields = {
            k: v
            for k, v in event_dict.items()
            if not (k in bound and bound[k] == v) and k not in ("event", "timestamp", "level")
        }
        step = bound.get(_STEP)
        level = event_dict.get("level", "info")
        head = " ".join(
            part
            for part in (
                str(event_dict.get("timestamp", "")),
                f"{step}:" if step else "",
                "" if level == "info" else f"{level.upper()}:",
                str(event_dict.get("event", "")),
            )
            if part
        )
        line = " ".join([head, *(f"{k}={_short_value(v)}" for k, v in fields.items())])
        if context and context != self._shown:
            self._shown = context
            return f"-- {describe_context(context)}\n{line}"
        return line


def describe_context(context: dict[str, Any]) -> str:
    """`triggers-service, deployment d-1, blue -> green, commit 0a1b2c3` (then any other keys)."""
    parts: list[str] = []
    if "application" in context:
        parts.append(str(context["application"]))
    if "deployment_id" in context:
        parts.append(f"deployment {context['deployment_id']}")
    if "lifecycle_event" in context:
        parts.append(str(context["lifecycle_event"]))
    if "old_color" in context or "new_color" in context:
        parts.append(f"{context.get('old_color', '?')} -> {context.get('new_color', '?')}")
    if "commit" in context:
        parts.append(f"commit {context['commit']}")
    parts += [f"{k}={_short_value(v)}" for k, v in context.items() if k not in _CONTEXT_KEYS]
    return ", ".join(parts)


def _short_value(value: object) -> str:
    text = str(value)
    return repr(text) if isinstance(value, str) and (" " in text or not text) else text


def bind(**context: object) -> None:
    """Attach run context (application, deployment id, colors, step) to every later line."""
    if not _configured:
        _pending.update(context)
        return
    import structlog

    structlog.contextvars.bind_contextvars(**context)


def _import_structlog() -> ModuleType:
    """structlog, imported with SIGINT and SIGTERM held until it is done: a signal raised
    mid-import would leave it (and asyncio) half-initialised, and the failure report that
    follows the signal needs it."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        import structlog
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return structlog


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
        return exit_code
    try:
        get_logger().error(message, fix=hint, exit_code=exit_code)
    except Exception:
        # Logging itself is broken, e.g. a signal cut structlog's first import short: the
        # failure is still said, as the same JSON line without the run context.
        _write_json_line(out, {"fix": hint, "exit_code": exit_code, "event": message})
    return exit_code


def _write_json_line(out: TextIO, fields: dict[str, object]) -> None:
    import json
    from datetime import UTC, datetime

    fields.update(level="error", timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    print(json.dumps(fields), file=out, flush=True)
