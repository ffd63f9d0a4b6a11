"""Probes: what the lab does to a device from outside (logins, scans, SIP requests, updates)."""
