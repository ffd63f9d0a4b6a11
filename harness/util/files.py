"""Writing report files so that a failure never leaves a broken file behind; taking a file lock.

A writer that dies half-way (a character the encoder refuses, a full disk) used to leave a 0-byte
results.json or replace a good report.html with an empty one. `write_atomically` writes a
temporary file beside the target and renames it over the target only once it is complete.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path


def write_atomically(
    path: Path, data: str | bytes, *, encoding: str = "utf-8", errors: str = "strict"
) -> Path:
    """Replace `path` with `data` in one step: readers see the old file or the new, never a part."""
    path = Path(path)
    payload = data.encode(encoding, errors) if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def try_flock(fd: int) -> bool:
    """Take an exclusive flock on `fd` if it is free (True); False while another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
