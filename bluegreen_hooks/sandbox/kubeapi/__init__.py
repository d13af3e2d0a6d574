"""An emulated Kubernetes API server on loopback, spoken to by the official Python client.

Serves core/v1 pods, services, replicationcontrollers, namespaces, nodes and endpoints, apps/v1
deployments, discovery.k8s.io/v1 endpointslices and coordination.k8s.io/v1 leases, with
watches, selectors and a controller that runs workload pods, marks them Ready and keeps each
Service's endpoints; optionally its NodePorts answer HTTP on loopback. See `KubeEmulator`.
"""

from __future__ import annotations

from .controller import ReadyEvent
from .emulator import KubeEmulator

__all__ = ["KubeEmulator", "ReadyEvent"]
