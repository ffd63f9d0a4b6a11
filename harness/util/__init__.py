"""One of each shared mechanism: stopping processes, free ports, deadlines, cpio archives."""
