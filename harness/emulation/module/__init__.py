"""The reference device's emulated cellular module: an AT-command port on the guest's second serial
port and a GSM mobile station on the test cell's virtual radio. It is an emulation, not a modem."""
