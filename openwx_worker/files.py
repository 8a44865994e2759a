"""Atomic file writes.

Every file another program may read while the worker runs (the state file a
supervisor polls, the pid file a script kills by, the cookie file the next start
resumes from, the QR image a user opens) is replaced in one step: the new content
goes to a temporary file in the same folder, which is then renamed over the old
name with ``os.replace``. A reader therefore sees the old content or the new
content, never an empty or half-written file (Mojo::Weixin truncated and rewrote
in place, reference H.9).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644,
                 durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that no reader sees a partial file.

    ``mode`` is applied to the new file before it becomes visible (0o600 for
    secrets such as the cookie file). ``durable`` also fsyncs the file and its
    folder, so the content survives a power cut; turn it off for files that are
    rewritten often and are cheap to lose.
    """
    target = Path(path)
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            if durable:
                os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if durable:
        _fsync_dir(folder)


def remove_file(path: str | os.PathLike[str]) -> bool:
    """Delete ``path`` if it exists; return whether something was deleted."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def read_file(path: str | os.PathLike[str]) -> bytes | None:
    """The content of ``path``, or None when it does not exist."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def _fsync_dir(folder: Path) -> None:
    # The rename itself lives in the folder's metadata; without this a crash right
    # after os.replace can bring the old file back.
    try:
        dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
