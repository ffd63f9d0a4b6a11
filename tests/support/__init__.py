"""Test doubles, oracles and real-traffic generators for the harness's own tests and benchmarks."""
