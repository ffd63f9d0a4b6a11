"""Test-cell backends: the radio side of a run (a software-defined cell, a callbox)."""
