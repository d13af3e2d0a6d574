"""A whole sandbox: moto server and the emulated Kubernetes API, and the env pointing at them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from bluegreen_hooks.sandbox import codedeploy_api
from bluegreen_hooks.sandbox.aws import MotoServer
from bluegreen_hooks.sandbox.codedeploy_agent import CodeDeployAgent
from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

REGION = "us-west-2"


class Sandbox:
    """Start both emulators on loopback; `env` is what a client needs to reach them.

    Its Kubernetes node has a loopback address of its own (`node_address`, default "auto":
    a random 127.x.y.z), on which every NodePort Service answers HTTP for its Ready pods, so
    sandboxes side by side (parallel tests) never share a nodePort; `sandbox.node_address`
    and the Node's InternalIP say which.
    """

    def __init__(
        self,
        folder: Path,
        *,
        ready_delay: float = 1.0,
        agent: bool = False,
        region: str = REGION,
        node_address: str = "auto",
        serve_node_ports: bool = True,
        on_node_port_error: Callable[[str], None] | None = None,
    ) -> None:
        self.folder = folder
        self.region = region  # the clients' default, and where the agent takes deployments
        self.aws = MotoServer()
        self.kube = KubeEmulator(
            ready_delay=ready_delay,
            node_address=node_address,
            serve_node_ports=serve_node_ports,
            on_node_port_error=on_node_port_error,
        )
        self.kubeconfig = folder / "kubeconfig"
        self.agent: CodeDeployAgent | None = None
        self._with_agent = agent

    def start(self) -> Sandbox:
        self.folder.mkdir(parents=True, exist_ok=True)
        codedeploy_api.install()  # the CodeDeploy calls moto lacks, with or without the agent
        self.aws.start()
        try:
            self.kube.start()
        except BaseException:
            self.aws.stop()
            raise
        self.kube.write_kubeconfig(self.kubeconfig)
        if self._with_agent:
            self.start_agent()
        return self

    def start_agent(self) -> CodeDeployAgent:
        """The emulated CodeDeploy agent, running hooks with this sandbox's env (idempotent)."""
        if self.agent is None:
            self.agent = CodeDeployAgent(
                self.folder / "codedeploy-agent" / "deployment-root",
                aws_env=self.env,
                script_env={**self.env, "BLUEGREEN_PYTHON": sys.executable},
            )
            self.agent.start()
        return self.agent

    def stop_agent(self) -> None:
        """Stop the agent (killing a hook it runs); its deployment-root stays for inspection."""
        if self.agent is not None:
            self.agent.stop()
            self.agent = None

    def stop(self) -> None:
        self.stop_agent()
        self.kube.stop()
        self.aws.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def node_address(self) -> str:
        """Where the cluster's node answers its NodePorts (its InternalIP)."""
        return self.kube.node_address

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.aws.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "KUBECONFIG": str(self.kubeconfig),
            "NO_PROXY": f"127.0.0.1,localhost,{self.node_address}",
        }

    def apply_env(self) -> None:
        """Point this process's clients at the sandbox (and only at it)."""
        os.environ.update(self.env)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
