"""The lab side of a run: the lab network and the servers a device talks to."""
