"""Blue/green deploys of Kubernetes applications behind an AWS Classic ELB."""

__version__ = "0.1.0"
