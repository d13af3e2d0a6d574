"""The world an end-to-end test sees: an application, its ELB, and state read back."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from kubernetes import client, config

from bluegreen_hooks.sandbox.environment import Sandbox
from bluegreen_hooks.sandbox.scenario import create_load_balancer, upload_certificate
from tests import cli_runs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "triggers-service"
_names = itertools.count(1)
_ports = itertools.count(30100, 2)


@dataclass
class App:
    """One application under test: its ELB, config, templates and clients to read state back."""

    name: str
    elb_name: str
    folder: Path
    blue: int
    green: int
    certificate: str
    sandbox: Sandbox

    @property
    def config(self) -> Path:
        return self.folder / ".oopsrc"

    def port(self, color: str) -> int:
        return self.blue if color == "blue" else self.green

    def settings(self, **changes: Any) -> None:
        data = json.loads(self.config.read_text())
        data.update(changes)
        self.config.write_text(json.dumps(data))

    def bluegreen(
        self, *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI as a user would: a separate process, JSON logs on stderr."""
        return cli_runs.run(
            "bluegreen_hooks",
            *argv,
            "--config",
            str(self.config),
            cwd=cwd or self.folder,
            env={**os.environ, **(env or {})},
            timeout=120,
        )

    # --- state read back through the real clients ---------------------------------

    @property
    def elb(self) -> Any:
        return boto3.client("elb")

    def listeners(self) -> dict[int, dict[str, Any]]:
        found = self.elb.describe_load_balancers(LoadBalancerNames=[self.elb_name])
        return {
            d["Listener"]["LoadBalancerPort"]: d["Listener"]
            for d in found["LoadBalancerDescriptions"][0]["ListenerDescriptions"]
        }

    def health_target(self) -> str | None:
        found = self.elb.describe_load_balancers(LoadBalancerNames=[self.elb_name])
        target: str | None = (
            found["LoadBalancerDescriptions"][0].get("HealthCheck", {}).get("Target")
        )
        return target

    def instance_ports(self) -> set[int]:
        return {listener["InstancePort"] for listener in self.listeners().values()}

    def point_http_listener(self, instance_port: int) -> None:
        """Re-create listener 80 by hand, as someone at the AWS console might."""
        self.elb.delete_load_balancer_listeners(
            LoadBalancerName=self.elb_name, LoadBalancerPorts=[80]
        )
        self.elb.create_load_balancer_listeners(
            LoadBalancerName=self.elb_name,
            Listeners=[
                {
                    "Protocol": "HTTP",
                    "LoadBalancerPort": 80,
                    "InstanceProtocol": "HTTP",
                    "InstancePort": instance_port,
                }
            ],
        )

    def set_tags(self, **tags: str) -> None:
        self.elb.add_tags(
            LoadBalancerNames=[self.elb_name],
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    @property
    def core(self) -> Any:
        return kube_api("CoreV1Api")

    @property
    def apps(self) -> Any:
        return kube_api("AppsV1Api")

    def pods(self, color: str) -> list[Any]:
        selector = f"bluegreen.io/application={self.name},bluegreen.io/color={color}"
        return list(self.core.list_namespaced_pod("default", label_selector=selector).items)

    def services(self) -> list[Any]:
        selector = f"bluegreen.io/application={self.name}"
        return list(self.core.list_namespaced_service("default", label_selector=selector).items)

    def snapshot(self) -> dict[str, Any]:
        """Everything a deploy could change, to compare before and after."""
        selector = f"bluegreen.io/application={self.name}"
        return {
            "listeners": self.listeners(),
            "health": self.health_target(),
            "services": sorted(
                (s.metadata.name, s.metadata.resource_version) for s in self.services()
            ),
            "deployments": sorted(
                (d.metadata.name, d.metadata.resource_version)
                for d in self.apps.list_namespaced_deployment(
                    "default", label_selector=selector
                ).items
            ),
            "pods": sorted(
                p.metadata.name
                for p in self.core.list_namespaced_pod("default", label_selector=selector).items
            ),
        }

    def status(self) -> dict[str, Any]:
        result = self.bluegreen("status", "--output", "json")
        assert result.returncode == 0, result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return report


def kube_api(name: str) -> Any:
    """One of the official client's API classes, configured from KUBECONFIG."""
    loader: Any = config
    api_client = loader.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    return getattr(client, name)(api_client)


def make_app(sandbox: Sandbox, tmp_path: Path) -> App:
    """A copy of the example app under a fresh name, with its own tagged ELB."""
    number = next(_names)
    name = f"app{os.getpid()}-{number}"
    folder = tmp_path / name
    shutil.copytree(EXAMPLE, folder)
    # Its own ELB only: a preview load balancer is what release tests add (tests/e2e/releases.py).
    settings = json.loads((folder / ".oopsrc").read_text())
    settings.pop("preview-elb-name", None)
    (folder / ".oopsrc").write_text(json.dumps(settings))
    templates = folder / ".kubernetes" / "deploy"
    for template in templates.iterdir():
        template.rename(templates / template.name.replace("triggers-service", name))
    blue = next(_ports)
    app = App(
        name=name,
        elb_name=f"elb-{name}",
        folder=folder,
        blue=blue,
        green=blue + 1,
        certificate=upload_certificate(f"cert-{name}"),
        sandbox=sandbox,
    )
    create_load_balancer(app.elb_name, blue=app.blue, green=app.green, certificate=app.certificate)
    app.settings(**{"elb-name": app.elb_name, "application-name": name, "ready-timeout": 20})
    app.settings(gates=FAST_GATES)
    return app


# The default gate (http on the health-check path, 3 successes in a row), polling faster so
# that every deploy in the suite does not wait a second between its answers.
FAST_GATES = {"before-switch": [{"http": {"interval": 0.1}}]}


def lease_body(app: App, holder: str, seconds: int) -> dict[str, Any]:
    moment = datetime.now(UTC)
    # The typed client re-serialises times with isoformat(), which drops a zero fraction, and
    # the API server's MicroTime wants all six digits: never send a whole second.
    moment = moment.replace(microsecond=moment.microsecond or 1)
    now = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "metadata": {"name": f"{app.name}-bluegreen-lock"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds, "renewTime": now},
    }


@contextmanager
def live_lock(app: App, holder: str, *, seconds: int = 3) -> Iterator[None]:
    """Hold the application's deploy lock as a running deploy does: renewed until the block ends."""
    api = kube_api("CoordinationV1Api")
    name = f"{app.name}-bluegreen-lock"
    api.create_namespaced_lease("default", lease_body(app, holder, seconds))
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(seconds / 4):
            try:
                api.patch_namespaced_lease(name, "default", lease_body(app, holder, seconds))
            except client.ApiException as exc:
                if exc.status == 404:  # removed (`unlock --force`): a real holder stops too
                    return
                raise

    heartbeat = threading.Thread(target=renew, daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        stop.set()
        heartbeat.join()
        if lease(app) is not None:
            api.delete_namespaced_lease(name, "default")


def dead_lock(app: App, holder: str, *, seconds: int = 3) -> None:
    """The deploy lock as a deploy that died just now leaves it: never renewed again."""
    kube_api("CoordinationV1Api").create_namespaced_lease(
        "default", lease_body(app, holder, seconds)
    )


def lease(app: App) -> Any:
    """The application's deploy lock as the cluster has it (None when there is none)."""
    try:
        return kube_api("CoordinationV1Api").read_namespaced_lease(
            f"{app.name}-bluegreen-lock", "default"
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
