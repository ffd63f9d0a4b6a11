"""Test-cell backends and modem stand-ins. No radio exists on this lab host: over-the-air tests
need a test cell the lab config declares; `ModemSimulator` only answers AT commands."""
