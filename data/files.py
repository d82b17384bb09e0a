"""Atomic file writes: the one helper every file the framework writes goes through.

Traces, summaries, hand-offs, configs, reports, exports and vocabularies are all written this
way, so a reader (or a resumed run) sees the old file or the whole new one, never a torn one.
Temp files start with "." and end in ".tmp", so no reader mistakes one for a finished file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path | str, data: bytes | str, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and a rename.

    With ``durable`` the data and the rename are fsynced, so they survive a power cut too. The
    file is made readable by others (0o644): these outputs are meant to be shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every platform lets a directory be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
