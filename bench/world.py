"""The world the benchmarks run in: a sandbox, applications behind their own ELB, timed commands."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.scenario import create_load_balancer, upload_certificate

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "triggers-service"
BASELINE = REPO / "bench" / "baseline"
BLUEGREEN = Path(sys.executable).with_name("bluegreen")
PUBLIC_PORTS = (80, 443)
SETUP_READY_DELAY = 0.1  # seconds, for deploys that only set the scene


class BenchError(Exception):
    """A run did not do what it should have; the benchmark stops rather than report nonsense."""


@dataclass(frozen=True)
class Timed:
    """A finished command: wall time of the whole process (from a shell), and its output."""

    seconds: float
    stdout: str
    stderr: str

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines the command wrote on stderr."""
        found = []
        for line in self.stderr.splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    found.append(entry)
        return found


@dataclass(frozen=True)
class App:
    """One application: its folder (.oopsrc and templates) and an ELB of the same name."""

    name: str
    folder: Path
    blue: int
    green: int
    replicas: int

    @property
    def config(self) -> Path:
        return self.folder / ".oopsrc"

    def port_of(self, color: str) -> int:
        return self.blue if color == "blue" else self.green


@dataclass
class World:
    sandbox: Sandbox
    folder: Path
    awscli_bin: Path
    certificate: str = ""
    _ports: Iterator[int] = field(default_factory=lambda: itertools.count(30100, 2))
    _commits: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _elb: Any = None

    @classmethod
    def create(cls, sandbox: Sandbox, folder: Path, awscli_bin: Path) -> World:
        """Point this process at the sandbox and upload the certificate every ELB uses."""
        sandbox.apply_env()
        world = cls(sandbox, folder, awscli_bin)
        world.certificate = upload_certificate("bench-certificate")
        return world

    # ------------------------------------------------------------------ applications

    def app(self, name: str, *, replicas: int = 2, ready_timeout: int = 120) -> App:
        """Copy the example app under `name`, with `replicas`, and create its ELB."""
        folder = self.folder / name
        shutil.copytree(EXAMPLE, folder)
        templates = folder / ".kubernetes" / "deploy"
        for template in templates.glob("triggers-service-*.yaml.tmpl"):
            text = template.read_text(encoding="utf-8")
            if "controller" in template.name:
                text, found = re.subn(r"(?m)^  replicas: \d+$", f"  replicas: {replicas}", text)
                if found != 1:
                    raise BenchError(f"{template}: expected one `replicas:` line")
            template.unlink()
            target = template.name.replace("triggers-service", name, 1)
            (templates / target).write_text(text, encoding="utf-8")
        config = json.loads((folder / ".oopsrc").read_text(encoding="utf-8"))
        config.update({"elb-name": name, "application-name": name, "ready-timeout": ready_timeout})
        config.pop("preview-elb-name", None)  # no preview ELB: `status` reads only the main one
        # No gates: the figures are the deploy's own; the default gate's answers, 1 s apart,
        # would add about 2 s between the last pod Ready and the switch.
        config["gates"] = {"before-switch": []}
        (folder / ".oopsrc").write_text(json.dumps(config, indent=2), encoding="utf-8")
        blue = next(self._ports)
        create_load_balancer(name, blue=blue, green=blue + 1, certificate=self.certificate)
        return App(name, folder, blue, blue + 1, replicas)

    def commit(self) -> str:
        """A fresh 40-hex commit id."""
        return f"{next(self._commits):040x}"

    def prepare_both_colors(self, app: App) -> None:
        """Deploy twice, quickly, so both colors run Ready pods and have a Service."""
        with self.ready_delay(SETUP_READY_DELAY):
            for _ in range(2):
                self.deploy(app, self.commit())

    def remove(self, app: App) -> None:
        """Delete the application's Kubernetes objects (keeps the emulator light)."""
        selector = urllib.parse.urlencode({"labelSelector": f"bluegreen.io/application={app.name}"})
        base = self.sandbox.kube.url
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for path in (
            "/apis/apps/v1/namespaces/default/deployments",
            "/api/v1/namespaces/default/replicationcontrollers",
            "/api/v1/namespaces/default/pods",
            "/api/v1/namespaces/default/services",
        ):
            request = urllib.request.Request(f"{base}{path}?{selector}", method="DELETE")
            with opener.open(request, timeout=30) as response:
                response.read()

    @contextlib.contextmanager
    def ready_delay(self, seconds: float) -> Iterator[None]:
        """Pods created meanwhile become Ready `seconds` after creation."""
        saved = self.sandbox.kube.ready_delay
        self.sandbox.kube.ready_delay = seconds
        try:
            yield
        finally:
            self.sandbox.kube.ready_delay = saved

    # ------------------------------------------------------------------ load balancer state

    @property
    def elb(self) -> Any:
        if self._elb is None:
            self._elb = boto3.client("elb")
        return self._elb

    def instance_ports(self, app: App) -> dict[int, int]:
        found = self.elb.describe_load_balancers(LoadBalancerNames=[app.name])
        return {
            d["Listener"]["LoadBalancerPort"]: d["Listener"]["InstancePort"]
            for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
        }

    def live_color(self, app: App) -> str:
        ports = set(self.instance_ports(app).values())
        if ports == {app.blue}:
            return "blue"
        if ports == {app.green}:
            return "green"
        raise BenchError(f"{app.name}: listeners are not on one color: {ports}")

    def idle_color(self, app: App) -> str:
        return "green" if self.live_color(app) == "blue" else "blue"

    def expect_live(self, app: App, color: str, after: str) -> None:
        ports = self.instance_ports(app)
        if set(ports) != set(PUBLIC_PORTS) or set(ports.values()) != {app.port_of(color)}:
            raise BenchError(f"after {after}, {app.name} should be live on {color}: {ports}")

    # ------------------------------------------------------------------ commands

    def env(self, *, baseline: bool = False) -> dict[str, str]:
        env = {**os.environ, **self.sandbox.env}
        if baseline:
            env["PATH"] = f"{self.awscli_bin}{os.pathsep}{env.get('PATH', '')}"
            env["KUBE_URL"] = self.sandbox.kube.url
        return env

    def run(self, argv: list[str], *, baseline: bool = False, timeout: float = 300) -> Timed:
        """Run `argv` from a shell (`bash -c`), timing the whole process; fail loudly."""
        command = shlex.join(argv)
        env = self.env(baseline=baseline)
        start = time.perf_counter()
        with subprocess.Popen(
            ["bash", "-c", command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.folder,
            start_new_session=True,  # its own process group, so a stop takes its children too
        ) as child:
            try:
                stdout, stderr = child.communicate(timeout=timeout)
            except BaseException as exc:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.communicate()
                if isinstance(exc, subprocess.TimeoutExpired):
                    raise BenchError(f"`{command}` took over {timeout:.0f} s; stopped it") from exc
                raise
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            raise BenchError(
                f"`{command}` exited {child.returncode}:\n{stderr[-3000:]}\n{stdout[-1000:]}"
            )
        return Timed(seconds, stdout, stderr)

    def bluegreen(self, app: App, *argv: str) -> Timed:
        return self.run([str(BLUEGREEN), *argv, "--config", str(app.config)])

    def deploy(self, app: App, commit: str) -> Timed:
        return self.bluegreen(app, "deploy", "--commit", commit)

    def baseline(self, script: str, *argv: str) -> Timed:
        return self.run([str(BASELINE / script), *argv], baseline=True)
