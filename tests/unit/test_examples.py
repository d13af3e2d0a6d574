"""The example application's Travis pipeline runs real commands of this package."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from bluegreen_hooks import oops
from bluegreen_hooks.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
TRAVIS = REPO / "examples" / "triggers-service" / ".travis.yml"


def _stages() -> dict[str, dict[str, Any]]:
    pipeline = yaml.safe_load(TRAVIS.read_text())
    return {job["stage"]: job for job in pipeline["jobs"]["include"]}


def _parse(line: str) -> Any:
    words = shlex.split(line.replace('"$TRAVIS_COMMIT"', "0a1b2c3d4e5f"))
    if words[0] == "oops":
        translated = oops.translate(words[1:])
        assert translated is not None, line
        return build_parser().parse_args(translated)
    assert words[0] == "bluegreen", line
    return build_parser().parse_args(words[1:])


def test_the_deploy_stage_publishes_then_deploys_the_commit_on_the_main_branch_only() -> None:
    deploy = _stages()["deploy"]

    bundle, redeploy = (_parse(line) for line in deploy["script"])

    assert "branch = master" in deploy["if"] and "type = push" in deploy["if"]
    assert (bundle.command, bundle.commit, bundle.upload) == ("bundle", "0a1b2c3d4e5f", True)
    assert (redeploy.command, redeploy.commit, redeploy.no_wait) == (
        "redeploy",
        "0a1b2c3d4e5f",
        False,
    )


def test_the_test_stage_builds_the_bundle_without_uploading() -> None:
    commands = [line for line in _stages()["test"]["script"] if line.startswith("bluegreen")]

    [bundle] = (_parse(line) for line in commands)

    assert (bundle.command, bundle.upload) == ("bundle", False)


def test_the_projects_own_pipeline_only_runs_its_tests() -> None:
    pipeline = yaml.safe_load((REPO / ".travis.yml").read_text())

    assert pipeline["script"] == ".ci/run"
    assert "deploy" not in pipeline and "before_deploy" not in pipeline


def try_it_commands() -> list[list[str]]:
    """The `bluegreen`/`oops` command lines of the README's "Try it" section, comments cut."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in section.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith(("bluegreen ", "oops "))]


def test_the_readme_try_it_section_uses_real_commands() -> None:
    commands = try_it_commands()

    parsed = [_parse(shlex.join(w for w in words if w != "&")) for words in commands]

    assert [args.command for args in parsed] == [
        "sandbox",
        "status",
        "bundle",
        "bundle",
        "releases",
        "redeploy",
        "redeploy",
        "status",
        "releases",
        "preview",
        "verify",
        "rollback",
    ]
    assert parsed[0].app == "examples/triggers-service"
    assert (REPO / parsed[0].app / ".oopsrc").is_file()
    assert all(args.upload for args in parsed if args.command == "bundle")
