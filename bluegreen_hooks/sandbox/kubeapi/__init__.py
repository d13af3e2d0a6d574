"""An emulated Kubernetes API server on loopback, spoken to by the official Python client.

Serves core/v1 pods, services, replicationcontrollers, namespaces, nodes, events and endpoints,
apps/v1 deployments and replicasets, discovery.k8s.io/v1 endpointslices and
coordination.k8s.io/v1 leases, with watches, selectors, graceful deletion and a controller that
runs workload pods and marks them Ready or plays a failure mode (kubelet.py), and keeps each
Service's endpoints; optionally its NodePorts answer HTTP on loopback. See `KubeEmulator`.
"""

from __future__ import annotations

from .controller import ReadyEvent
from .emulator import KubeEmulator

__all__ = ["KubeEmulator", "ReadyEvent"]
