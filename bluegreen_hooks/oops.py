"""`oops`: the seed's habits, each translated to the `bluegreen` subcommand that does it."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: oops COMMAND [ARGS] [--config PATH]

The seed's `oops` habits; each is a `bluegreen` subcommand:

  oops rollback [--force]        bluegreen rollback [--force]
  oops rollback --current        bluegreen status --output oops
  oops status                    bluegreen status --output oops
  oops deploy COMMIT [--no-wait] bluegreen redeploy COMMIT [--no-wait]
  oops list [--output json]      bluegreen releases [--output json]
  oops preview                   bluegreen preview
  oops off                       bluegreen preview

`oops status` prints the seed's JSON: {"application", "active": {"color", "port",
"commit"}, "off": {...}} (and "preview" when preview-elb-name is set).
`bluegreen COMMAND --help` describes each command and the exit codes.
"""

_SIMPLE = {
    "deploy": ["redeploy"],
    "list": ["releases"],
    "preview": ["preview"],
    "off": ["preview"],
    "status": ["status", "--output", "oops"],
}


def translate(argv: Sequence[str]) -> list[str] | None:
    """The `bluegreen` arguments for an `oops` command line (None when it is not one)."""
    if not argv or argv[0] not in (*_SIMPLE, "rollback"):
        return None
    command, rest = argv[0], list(argv[1:])
    if command == "rollback":
        if "--current" in rest:
            return ["status", "--output", "oops", *(a for a in rest if a != "--current")]
        return ["rollback", *rest]
    return [*_SIMPLE[command], *rest]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    translated = translate(args)
    if translated is None:
        given = f"unknown command {args[0]!r}\n\n" if args else ""
        print(f"oops: {given}{USAGE}", end="", file=sys.stderr)
        return 2
    from bluegreen_hooks import cli

    return cli.main(translated)


if __name__ == "__main__":
    sys.exit(main())
