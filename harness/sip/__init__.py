"""SIP for the lab: message parsing, SIP signalling found in captures, the kamailio registrar and
the direct-request probe that tries to reach a device's SIP user agent around its registrar."""
