"""Benchmarks: bluegreen-hooks against the seed's shell flow, measured in one run."""
