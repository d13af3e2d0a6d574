"""`bluegreen bundle`: build the CodeDeploy revision of a commit; with --upload, publish it."""

from __future__ import annotations

import argparse
from pathlib import Path

from bluegreen_hooks import bundle, clients, logs, releases
from bluegreen_hooks.commands.common import config_from


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    bucket = config.require("s3-bucket", needed_by="bundle --upload") if args.upload else None
    built = bundle.build(config, args.commit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / built.file_name
    path.write_bytes(built.data)
    logs.get_logger().info(
        "bundle written",
        path=str(path),
        bytes=len(built.data),
        files=len(built.entries),
        sha256=built.sha256,
    )
    if bucket is not None:
        releases.publish(clients.s3(config), bucket, built)
    print(built.key, flush=True)
    return 0
