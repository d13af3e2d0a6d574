"""Pure rendering of the results: number formats, goals, markdown tables and the whole page."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.stats import Summary, ratio, summarize

Format = Callable[[float], str]


@dataclass(frozen=True)
class Goal:
    """A target from the issue, what was measured against it, and whether it holds."""

    target: str
    measured: str
    passed: bool


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Section:
    """One measurement: what it does (markdown), its tables, notes and goals."""

    title: str
    text: str
    tables: Sequence[Table] = ()
    notes: Sequence[str] = ()
    goals: Sequence[Goal] = ()


@dataclass(frozen=True)
class Document:
    title: str
    intro: str
    machine: Mapping[str, str]
    sections: Sequence[Section] = field(default_factory=list)


def seconds(value: float) -> str:
    """A duration with a unit that keeps about three significant digits."""
    if math.isinf(value) or math.isnan(value):
        return str(value)
    if abs(value) >= 1:
        return f"{value:.2f} s"
    if abs(value) >= 0.1:
        return f"{value * 1000:.0f} ms"
    if abs(value) >= 0.01:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1000:.2f} ms"


def count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def rate(value: float) -> str:
    return f"{value:.0f}/s"


def times(value: float) -> str:
    """A ratio, e.g. `6.1x`."""
    return "inf" if math.isinf(value) else f"{value:.1f}x"


def spread(summary: Summary, fmt: Format = seconds) -> str:
    """`median (min to max)`, or just the value when every run gave the same."""
    if summary.minimum == summary.maximum:
        return fmt(summary.median)
    return f"{fmt(summary.median)} ({fmt(summary.minimum)} to {fmt(summary.maximum)})"


def verdict(passed: bool) -> str:
    return "**PASS**" if passed else "**FAIL**"


def at_most(target: str, summary: Summary, limit: float, fmt: Format = seconds) -> Goal:
    """Goal on a median: at most `limit`."""
    return Goal(target, fmt(summary.median), summary.median <= limit)


def faster_by(target: str, ours: Summary, baseline: Summary, factor: float) -> Goal:
    """Goal on medians: ours at least `factor` times faster than the baseline."""
    found = ratio(baseline, ours)
    return Goal(target, times(found), found >= factor)


def comparison_row(
    figure: str, ours: Summary, baseline: Summary | None, fmt: Format = seconds
) -> list[str]:
    """figure | bluegreen | baseline | baseline ÷ bluegreen (medians)."""
    if baseline is None:
        return [figure, spread(ours, fmt), "n/a", "n/a"]
    shown = times(ratio(baseline, ours)) if ours.median > 0 and baseline.median > 0 else "n/a"
    return [figure, spread(ours, fmt), spread(baseline, fmt), shown]


COMPARISON_HEADERS = ("figure", "bluegreen", "baseline (seed's shell)", "ratio")


def listener_gap_rows(
    ports: Sequence[int], ours: Sequence[Sequence[float]], baseline: Sequence[Sequence[float]]
) -> list[list[str]]:
    """One row per port: how long it had no listener, per run, from the server's request log."""
    return [
        comparison_row(
            f"delete {port} to create {port} arriving (server log)",
            summarize([run[index] for run in ours]),
            summarize([run[index] for run in baseline]),
        )
        for index, port in enumerate(ports)
    ]


def markdown_table(table: Table) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    head = [line(table.headers), "|" + "---|" * len(table.headers)]
    return "\n".join(head + [line(row) for row in table.rows])


def goals_table(sections: Sequence[Section]) -> Table:
    rows = [
        [section.title, goal.target, goal.measured, verdict(goal.passed)]
        for section in sections
        for goal in section.goals
    ]
    return Table(("measurement", "goal", "measured (median)", "result"), rows)


def render(document: Document) -> str:
    """The whole markdown page."""
    parts = [f"# {document.title}", document.intro.strip(), "## Machine"]
    parts.append("\n".join(f"- **{key}**: {value}" for key, value in document.machine.items()))
    parts += ["## Goals", markdown_table(goals_table(document.sections))]
    for section in document.sections:
        parts += [f"## {section.title}", section.text.strip()]
        parts += [markdown_table(table) for table in section.tables]
        if section.goals:
            parts.append(
                "\n".join(
                    f"Goal: {g.target}: {g.measured}, {verdict(g.passed)}." for g in section.goals
                )
            )
        if section.notes:
            parts.append("\n".join(f"- {note}" for note in section.notes))
    return "\n\n".join(parts) + "\n"
