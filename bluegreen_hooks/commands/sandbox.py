"""`bluegreen sandbox`: emulated AWS, Kubernetes and CodeDeploy agent on loopback, set up for
one application, until SIGINT or SIGTERM (exit 0, env file and temporary files removed)."""

from __future__ import annotations

import argparse
import faulthandler
import os
import shlex
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from bluegreen_hooks import logs
from bluegreen_hooks.config import CONFIG_ENV, CONFIG_NAME, Config, find_config, load_config
from bluegreen_hooks.errors import ConfigError, UsageError

EXTRA_INSTALL = "pip install 'bluegreen-hooks[sandbox]'"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STUCK_STOP_SECONDS = 20


def run(args: argparse.Namespace) -> int:
    require_sandbox_extra()
    node_address = node_address_argument(args.node_address)
    config = app_config(args)
    env_path = Path(args.env_file).resolve()
    refuse_live_env_file(env_path)
    with stop_on_signals() as stop, tempfile.TemporaryDirectory(prefix="bluegreen-sandbox-") as tmp:
        serve(
            Path(tmp),
            config,
            env_path,
            stop,
            ready_delay=args.ready_delay,
            node_address=node_address,
        )
    faulthandler.cancel_dump_traceback_later()
    logs.get_logger().info("sandbox stopped")
    return 0


def serve(
    folder: Path,
    config: Config | None,
    env_path: Path,
    stop: threading.Event,
    *,
    ready_delay: float,
    node_address: str = "auto",
) -> None:
    """Start both emulators, set up the app, write the env file; undo it all once stopped."""
    from bluegreen_hooks.sandbox.environment import REGION, Sandbox
    from bluegreen_hooks.sandbox.scenario import set_up_app

    log = logs.get_logger()
    region = (config.region if config else None) or REGION  # the agent polls only this one
    with Sandbox(
        folder,
        ready_delay=ready_delay,
        agent=True,
        region=region,
        node_address=node_address,
        on_node_port_error=log.warning,
    ) as sandbox:
        sandbox.apply_env()
        env = dict(sandbox.env)
        if config is None:
            log.info(f"no {CONFIG_NAME} found: the sandbox starts empty (--app DIR sets one up)")
        else:
            set_up_app(config, sandbox.kubeconfig, log.info)
            env[CONFIG_ENV] = str(config.path.resolve())
        written = write_env_file(env_path, env)
        try:
            log.info(
                "sandbox running",
                aws=sandbox.aws.url,
                kubernetes=sandbox.kube.url,
                node=sandbox.node_address,
                env_file=str(env_path),
            )
            log.info(f"use it from another shell: . {env_path}")
            log.info(f"stop it: Ctrl-C, or kill {os.getpid()}")
            stop.wait()
            # Stopping takes a second or two; if it ever hangs, say where each thread is.
            faulthandler.dump_traceback_later(STUCK_STOP_SECONDS, exit=False)
        finally:
            remove_if_unchanged(env_path, written)


def node_address_argument(value: str) -> str:
    """--node-address: "auto" or an IPv4 loopback address; else a usage error (exit 2)."""
    if value == "auto":
        return value
    from bluegreen_hooks.sandbox.kubeapi.nodeports import check_loopback

    try:
        return check_loopback(value)
    except ValueError as exc:
        raise UsageError(
            f"--node-address: {exc}",
            hint="pass a 127.x.y.z address (e.g. 127.0.0.1), or auto for one of its own",
        ) from None


def require_sandbox_extra() -> None:
    """moto (and its server) come with the `sandbox` extra, which hosts do not install."""
    try:
        import moto.server  # noqa: F401
    except ModuleNotFoundError as exc:
        package = (exc.name or "moto").split(".")[0]
        raise UsageError(
            f"the sandbox needs the package {package!r}, which is not installed",
            hint=f"install the sandbox extra: {EXTRA_INSTALL} (a clone's `make demo` does)",
        ) from exc


def app_config(args: argparse.Namespace) -> Config | None:
    """--app DIR's config, else the one the product would find (--config, $BLUEGREEN_CONFIG,
    ./.oopsrc), else None: an empty sandbox."""
    if args.app:
        folder = Path(args.app)
        if not (folder / CONFIG_NAME).is_file():
            raise ConfigError(
                f"--app names {folder}, which has no {CONFIG_NAME}",
                hint=f"pass the folder holding your application's {CONFIG_NAME}",
            )
        return load_config(folder / CONFIG_NAME)
    try:
        path = find_config(args.config)
    except ConfigError:
        if args.config or os.environ.get(CONFIG_ENV):
            raise
        return None
    return load_config(path)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, whatever their disposition was at launch (a shell
    starts background jobs with SIGINT ignored); the old handlers come back afterwards."""
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def write_env_file(path: Path, env: dict[str, str]) -> str:
    text = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    path.write_text(text, encoding="utf-8")
    return text


def remove_if_unchanged(path: Path, written: str) -> None:
    """Remove our env file, unless something else has replaced it since."""
    try:
        if path.read_text(encoding="utf-8") == written:
            path.unlink()
    except FileNotFoundError:
        pass


def refuse_live_env_file(path: Path) -> None:
    """An env file whose AWS endpoint still answers belongs to a running sandbox; a stale one
    (its ports dead) is simply replaced. Its folder must be there to write it in."""
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise UsageError(
            f"--env-file {path}: cannot write there ({path.parent} is not a writable folder)",
            hint="pass --env-file in an existing folder you can write to, e.g. ./sandbox.env",
        )
    endpoint = _env_file_value(path, "AWS_ENDPOINT_URL")
    if endpoint is None:
        return
    parts = urlsplit(endpoint)
    if parts.hostname is None or parts.port is None:
        return
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            pass
    except OSError:
        return
    raise UsageError(
        f"{path} belongs to a sandbox that is still running (at {endpoint})",
        hint="stop that one first (kill its process, or Ctrl-C in its shell), "
        "or pass --env-file another.env",
    )


def _env_file_value(path: Path, name: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        if key == name:
            words = shlex.split(value)
            return words[0] if words else None
    return None
