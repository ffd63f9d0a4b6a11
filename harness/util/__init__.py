"""One of each shared mechanism: stopping processes, free ports, deadlines, file writes and locks, cpio archives, showing text."""
