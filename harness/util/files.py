"""Writing report files so that a failure never leaves a broken file behind.

A writer that dies half-way (a character the encoder refuses, a full disk) used to leave a 0-byte
results.json or replace a good report.html with an empty one. `write_atomically` writes a
temporary file beside the target and renames it over the target only once it is complete.
"""

from __future__ import annotations

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
