"""The supervisor process: arbiter + controller API + signals + systemd, in one nursery.

``run_supervisor(config)`` is what ``openwx-supervisor start`` runs in the
foreground. Start-up: take the pid file (one supervisor per tmpdir), restore the
clients, listen, then tell systemd ``READY=1``. SIGTERM or SIGINT: stop taking
requests, stop every worker gracefully (SIGTERM, graceful_timeout, SIGKILL),
save the clients file, remove the pid file, return (exit status 0).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import trio

from openwx_worker.files import atomic_write

from . import httpd, sdnotify
from .api import ControllerApp
from .arbiter import Arbiter, open_arbiter
from .config import SupervisorConfig
from .proxy import Upstream
from .watcher import Launcher

log = logging.getLogger(__name__)


class AlreadyRunning(Exception):
    pass


class Supervisor:
    """A running supervisor, as seen by tests: its arbiter and its bound address."""

    def __init__(self, arbiter: Arbiter, url: str) -> None:
        self.arbiter = arbiter
        self.url = url


def _take_pid_file(path: str) -> int:
    """Become the only supervisor of this tmpdir (an flock, immune to recycled pids).

    Returns the lock's fd (closing it releases the lock); writes our pid for ``stop``.
    """
    lock_path = os.path.join(os.path.dirname(path), ".mojo_weixin_controller_process.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:
            with open(path) as f:
                other = f.read().strip()
        except OSError:
            other = "?"
        raise AlreadyRunning(f"a supervisor (pid {other}) already runs with pid file {path}") from None
    atomic_write(path, str(os.getpid()).encode(), durable=False)
    return fd


def _release_pid_file(path: str, lock_fd: int) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass
    os.close(lock_fd)


@asynccontextmanager
async def open_supervisor(config: SupervisorConfig, *, launcher: Launcher | None = None
                          ) -> AsyncIterator[Supervisor]:
    """Run the supervisor in the background of the caller's block (tests, the CLI)."""
    os.makedirs(config.effective_tmpdir, exist_ok=True)
    lock_fd = _take_pid_file(config.pid_path)
    try:
        upstream = Upstream(config.proxy_timeout)
        try:
            async with open_arbiter(config, upstream, launcher=launcher) as arbiter:
                async with trio.open_nursery() as nursery:
                    app = ControllerApp(arbiter, upstream, access_token=config.access_token)
                    binds = await nursery.start(
                        partial(httpd.serve, keep_alive_timeout=75.0), app, config.listen)
                    url = binds[0]
                    log.info("supervisor listening on %s (pid %s)", url, os.getpid())
                    sdnotify.notify(f"READY=1\nSTATUS=listening on {url}\nMAINPID={os.getpid()}")
                    nursery.start_soon(sdnotify.watchdog_loop)
                    try:
                        yield Supervisor(arbiter, url)
                    finally:
                        sdnotify.notify("STOPPING=1")
                        nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await upstream.aclose()
    finally:
        _release_pid_file(config.pid_path, lock_fd)


async def run_supervisor(config: SupervisorConfig, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run until SIGTERM or SIGINT, then stop every worker and return."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with open_supervisor(config) as sup:
            task_status.started(sup)
            async for signum in signals:
                log.info("received %s: stopping every worker", signal.Signals(signum).name)
                break
