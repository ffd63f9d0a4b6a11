"""What the lab observed of a device, as plain data: made by lab services and probes, judged by checks.

Data types only, no I/O: a check imports its evidence types from here (or from harness.analysis),
never from the service or probe that gathered them (tests/test_layering.py enforces it).
"""
