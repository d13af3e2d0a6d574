"""`bluegreen sandbox`: emulated AWS and Kubernetes on loopback until interrupted."""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from bluegreen_hooks import logs


def run(args: argparse.Namespace) -> int:
    from bluegreen_hooks.sandbox.environment import Sandbox

    with tempfile.TemporaryDirectory(prefix="bluegreen-sandbox-") as folder:
        sandbox = Sandbox(Path(folder), ready_delay=args.ready_delay)
        with sandbox:
            env_file = sandbox.write_env_file(Path(args.env_file).resolve())
            logs.get_logger().info(
                "sandbox running; press Ctrl-C to stop",
                aws=sandbox.aws.url,
                kubernetes=sandbox.kube.url,
                env_file=str(env_file),
                use=f". {env_file}",
            )
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                logs.get_logger().info("sandbox stopped")
    return 0
