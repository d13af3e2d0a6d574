"""Writing a kubeconfig that points the official client (or kubectl) at the emulator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

CONTEXT_NAME = "sandbox"


def kubeconfig_dict(server_url: str, namespace: str = "default") -> dict[str, Any]:
    """One cluster, one user (a dummy bearer token) and one current context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": server_url}}],
        "users": [{"name": CONTEXT_NAME, "user": {"token": "sandbox-token"}}],
        "contexts": [
            {
                "name": CONTEXT_NAME,
                "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


def write_kubeconfig(path: str | os.PathLike[str], server_url: str) -> str:
    """Write the kubeconfig YAML to `path` (creating parent directories); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig_dict(server_url), sort_keys=False))
    return str(target)
