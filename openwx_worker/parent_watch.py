"""A worker exits by itself when its supervisor is gone.

The supervisor keeps the write end of a pipe open for as long as it lives and
hands the read end to every worker it spawns (its number in the environment
variable ``OPENWX_PARENT_FD``, or the ``--parent-fd`` flag). Nobody ever writes
to that pipe: the read end sees end-of-file exactly when the last holder of the
write end is gone, which happens when the supervisor exits *or is killed*
(SIGKILL included, since the kernel closes its descriptors). So a worker that
watches the pipe never outlives its supervisor, and no polling of the parent pid
is needed (a polled ppid can be recycled or reparented to a sub-reaper).

This module knows nothing of the supervisor: it is the worker's half of that
contract. The runtime calls it like this::

    fd = parent_fd_from_env()
    if fd is not None:
        nursery.start_soon(stop_when_parent_gone, fd, worker.request_stop)

A worker run by hand or by systemd has no parent fd and watches nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable, Mapping

import trio

PARENT_FD_ENV = "OPENWX_PARENT_FD"

log = logging.getLogger(__name__)


def parent_fd_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """The inherited pipe's fd from ``OPENWX_PARENT_FD``, or None if unset or unusable.

    An fd that is not open in this process is ignored (logged), rather than
    making the worker exit at once: a stale variable must not kill a hand-run worker.
    """
    env = os.environ if environ is None else environ
    raw = env.get(PARENT_FD_ENV, "").strip()
    if not raw:
        return None
    try:
        fd = int(raw)
        os.fstat(fd)
    except (ValueError, OSError):
        log.warning("ignoring %s=%r: not an open file descriptor", PARENT_FD_ENV, raw)
        return None
    return fd


async def wait_parent_gone(fd: int) -> None:
    """Return when the pipe's write end has been closed everywhere (the supervisor is gone).

    Takes ownership of ``fd`` (it is closed on return or cancellation). Any data
    read is ignored: only end-of-file (or a read error) means something.
    """
    stream = trio.lowlevel.FdStream(fd)
    try:
        while True:
            try:
                chunk = await stream.receive_some(512)
            except (trio.BrokenResourceError, OSError):
                return
            if not chunk:
                return
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def stop_when_parent_gone(fd: int, stop: Callable[[], object]) -> None:
    """Wait for the supervisor to go away, log it, then call ``stop()`` once."""
    await wait_parent_gone(fd)
    log.warning("supervisor gone (parent pipe closed): stopping")
    stop()


def set_process_name(name: str) -> bool:
    """Name this process (Linux ``comm``, shown by ``top`` and ``ps -o comm``).

    Uses ``prctl(PR_SET_NAME)`` through ctypes, so no extra dependency; the
    kernel keeps the first 15 bytes. Returns False where unsupported.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        pr_set_name = 15
        return libc.prctl(pr_set_name, name.encode()[:15], 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
