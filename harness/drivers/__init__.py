"""Drivers: what implements a capability on one kind of bench (QEMU, a serial port, a PDU...)."""
