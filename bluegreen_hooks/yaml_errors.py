"""Where a YAML document fails to parse, said without quoting it (it may hold secrets)."""

from __future__ import annotations

MAX_PROBLEM_CHARS = 80


def yaml_problem_at(error: BaseException) -> str | None:
    """`line L, column C: problem` for a PyYAML error that marks a place; else None.

    Only the parser's own phrase is kept (bounded), never the snippet of the text it would print.
    """
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return None
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or "cannot parse"
    problem = str(problem)
    if len(problem) > MAX_PROBLEM_CHARS:
        problem = problem[: MAX_PROBLEM_CHARS - 3] + "..."
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
