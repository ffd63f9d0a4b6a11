"""The security suites, one module per control (installed as the package harness.testsuites)."""
