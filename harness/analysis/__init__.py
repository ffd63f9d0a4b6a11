"""Reading evidence: captures, SIP messages, syslog records, firmware images. No device I/O."""
