"""Emulated AWS (moto server) and Kubernetes API on loopback, for `sandbox`, `demo` and tests."""
