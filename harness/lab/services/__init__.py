"""Lab services: the servers a device talks to during a run (telemetry, syslog, updates, SIP)."""
