"""Start-up: `bluegreen --help` and `bluegreen status` whole-process times, and what they import."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from bench.report import COMPARISON_HEADERS, Goal, Section, Table, at_most, comparison_row
from bench.stats import summarize
from bench.world import BLUEGREEN, App, BenchError, World

STATUS_GOAL = 0.6

# Runs the CLI exactly as `python -m bluegreen_hooks` does, then says at exit whether this
# process has the kubernetes client loaded (a cross-check of the `-X importtime` output).
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('bench-probe kubernetes=%s\\n' % any("
    "m == 'kubernetes' or m.startswith('kubernetes.') for m in sys.modules)))\n"
    "from bluegreen_hooks.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@dataclass(frozen=True)
class Imports:
    """Whether a command's own process imported the kubernetes client, seen two ways."""

    importtime: bool  # a `kubernetes` module in its `-X importtime` report
    at_exit: bool  # `kubernetes` in its sys.modules at exit

    @property
    def imported(self) -> bool:
        return self.importtime or self.at_exit


def imports_kubernetes(world: World, app: App, *argv: str) -> Imports:
    """Run a command once under `python -X importtime` and look for the kubernetes client."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE, *argv, "--config", str(app.config)],
        capture_output=True,
        text=True,
        env=world.env(),
        cwd=world.folder,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"{argv} exited {result.returncode}:\n{result.stderr[-3000:]}")
    lines = result.stderr.splitlines()
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in lines
        if line.startswith("import time:") and "|" in line
    ]
    probe = [line for line in lines if line.startswith("bench-probe ")]
    if len(probe) != 1:
        raise BenchError(f"{argv}: the import probe did not report")
    return Imports(
        importtime=any(m == "kubernetes" or m.startswith("kubernetes.") for m in modules),
        at_exit=probe[0].endswith("kubernetes=True"),
    )


def measure(world: World, runs: int) -> list[Section]:
    app = world.app("bench-startup")
    world.prepare_both_colors(app)
    python: list[float] = []
    helps: list[float] = []
    status: list[float] = []
    baseline: list[float] = []
    for run in range(runs):
        python.append(world.run([sys.executable, "-c", "pass"]).seconds)
        helps.append(world.run([str(BLUEGREEN), "--help"]).seconds)
        status.append(world.bluegreen(app, "status").seconds)
        baseline.append(world.baseline("oops-status", app.name).seconds)
        print(
            f"bench: start-up {run + 1}/{runs}: --help {helps[-1]:.2f} s, "
            f"status {status[-1]:.2f} s, baseline status {baseline[-1]:.2f} s",
            file=sys.stderr,
        )
    status_summary = summarize(status)
    rows = [
        comparison_row("`python -c pass` (the floor)", summarize(python), None),
        comparison_row("`bluegreen --help`", summarize(helps), None),
        comparison_row("`bluegreen status`", status_summary, summarize(baseline)),
    ]
    checks = {
        "status": imports_kubernetes(world, app, "status"),
        "rollback": imports_kubernetes(world, app, "rollback"),
    }
    import_rows = [
        [
            f"`bluegreen {name}`",
            "yes" if found.importtime else "no",
            "yes" if found.at_exit else "no",
        ]
        for name, found in checks.items()
    ]
    goals = [
        at_most(f"`bluegreen status` at most {STATUS_GOAL:.1f} s", status_summary, STATUS_GOAL)
    ]
    goals += [
        Goal(
            f"`bluegreen {name}` does not import the Kubernetes client",
            "imports it" if found.imported else "does not",
            not found.imported,
        )
        for name, found in checks.items()
    ]
    return [
        Section(
            title="6. Start-up",
            text=(
                f"Whole processes started from a shell, {runs} times each: the interpreter "
                "alone, `bluegreen --help`, `bluegreen status` (reads the ELB: tags and "
                "listeners) and, as its baseline, `bench/baseline/oops-status`: the seed's "
                "three reads (`describe-tags` twice, `describe-load-balancers`, each through "
                "`jq`), which is how its scripts learned which color was live. Then each of "
                "`status` and `rollback` runs once more under `python -X importtime`, through "
                "a wrapper that calls the same `main` as `python -m bluegreen_hooks` and "
                "reports at exit whether its process has the `kubernetes` package loaded. "
                "Only the command's own process is checked: `rollback` checks readiness in a "
                "child process, which may import the client; that child's time is part of "
                "the rollback time in 1."
            ),
            tables=[
                Table(COMPARISON_HEADERS, rows),
                Table(
                    (
                        "command",
                        "`kubernetes` in its `-X importtime` output",
                        "`kubernetes` in its `sys.modules` at exit",
                    ),
                    import_rows,
                ),
            ],
            goals=goals,
        )
    ]
