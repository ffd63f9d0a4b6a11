"""Test doubles and real-traffic generators for the harness's own tests and benchmarks."""
