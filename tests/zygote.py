"""A process that has imported the product once and forks a fresh copy of itself for each run.

Run as `python tests/zygote.py SOCKET`; it ends when its standard input does (the test
process that started it holds the other end). Each connection on the Unix socket SOCKET asks
for one run of `python -m MODULE ARGV...`: a JSON line (module, argv, cwd, env) with the run's
stdin, stdout and stderr passed as file descriptors. The zygote forks a keeper, which forks the
run, says the run's pid, waits for it and says its wait status; the zygote reaps keepers
without waiting. The run executes the module with `runpy` as `python -m` does (argv,
`__main__`, working folder, environment, standard streams, exit code), so its only difference
from a fresh interpreter is that boto3, the Kubernetes client and the product are imported
already.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import pkgutil
import runpy
import selectors
import shutil
import signal
import socket
import sys
import threading
from typing import Any

# What a CLI run spends most of its CPU importing (about 1 s of a deploy's 1.4 s on 2 cores).
HEAVY = (
    "boto3",
    "kubernetes.config",
    "kubernetes.client",
    "kubernetes.client.models.v1_deployment",
    "kubernetes.client.models.v1_replication_controller",
    "kubernetes.client.models.v1_service",
    "structlog",
    "yaml",
)
# Run as modules (`python -m`), never imported here: `__main__` would run the CLI. `run` drops
# whatever module it runs from `sys.modules`, so runpy executes it afresh.
ENTRY_POINTS = ("bluegreen_hooks.__main__", "bluegreen_hooks.oops")


def preload() -> None:
    for name in HEAVY:
        importlib.import_module(name)
    import bluegreen_hooks

    for module in pkgutil.walk_packages(bluegreen_hooks.__path__, "bluegreen_hooks."):
        if module.name in ENTRY_POINTS or module.name.startswith("bluegreen_hooks.sandbox"):
            continue
        importlib.import_module(module.name)


def serve(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)  # the test process holds the other end
    print("ready", flush=True)
    while True:
        for key, _ in events.select():
            if key.fileobj is sys.stdin:  # the test process is gone, however it ended
                shutil.rmtree(os.path.dirname(path), ignore_errors=True)
                return
            connection, _ = listener.accept()
            if os.fork() == 0:
                events.close()
                listener.close()
                keep(connection)
            connection.close()


def keep(connection: socket.socket) -> None:
    """In the keeper: start the run, say its pid, wait for it, say how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    header, fds = _receive(connection)
    pid = os.fork()
    if pid == 0:
        connection.close()
        run(header, fds)
    for fd in fds:
        os.close(fd)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    connection.sendall(json.dumps({"status": status}).encode() + b"\n")
    os._exit(0)


def _receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    while not data.endswith(b"\n"):
        more = connection.recv(1 << 20)
        if not more:
            break
        data += more
    return json.loads(data), fds


def run(header: dict[str, Any], fds: list[int]) -> None:
    """In the run: become `python -m MODULE ARGV...`; ends the process."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(header["cwd"])
    os.environ.clear()
    os.environ.update(header["env"])
    module = header["module"]
    sys.modules.pop(module, None)
    sys.path[0] = header["cwd"]  # as `python -m` puts its working folder first
    sys.argv = [module, *header["argv"]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    finish(code)


def _exit_code(exc: SystemExit) -> int:
    """The exit status Python gives `raise SystemExit(code)`."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def finish(code: int) -> None:
    """End the run as a fresh interpreter ends, without tearing down every module the zygote
    imported (about a quarter of a second, most of a short run): wait for non-daemon threads,
    run the atexit handlers, flush the streams, exit."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":
    preload()
    serve(sys.argv[1])
