"""Writing output files that hold PHI or bank data: private, atomic, durable.

A reader (or a crash) never sees half a file, the file is never readable by others, and a
symlink someone left at the target path is replaced, never written through.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o640
"""Owner read/write, group read (the operators' group), nothing for others."""


def write_private_file_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0640, atomically.

    The bytes go to a new temporary file in the same directory (created exclusively, so no
    existing file or symlink is followed), which is fsynced and renamed over ``path``; the
    directory is then fsynced so the rename survives a power loss. A symlink at ``path`` is
    replaced by the file, not followed. Raises ``OSError`` (nothing left behind: the
    temporary file is removed) when the directory is missing or not writable, or ``path``
    is a directory.
    """
    directory = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), PRIVATE_MODE)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def prove_writable_directory(directory: Path) -> None:
    """Create ``directory`` if needed and prove a file can be created in it.

    Raises ``OSError`` when it cannot (a file in the way, a missing permission, a read-only
    file system); the probe file is removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory, prefix=".probe-"):
        pass


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
