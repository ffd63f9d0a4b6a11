"""The Osmocom backend of the test cell: a real GSM network from Debian's packages (see cell.py)."""
