"""The supervisor process: arbiter + controller API + signals + systemd, in one nursery.

``run_supervisor(config)`` is what ``openwx-supervisor start`` runs in the
foreground. Start-up: take the pid file (one supervisor per tmpdir), restore the
clients, listen, then tell systemd ``READY=1``. SIGTERM or SIGINT: stop taking
requests, stop every worker gracefully (SIGTERM, graceful_timeout, SIGKILL),
save the clients file, remove the pid file, return (exit status 0).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from openwx_worker.files import atomic_write

from . import sdnotify
from .api import ControllerApp
from .arbiter import Arbiter, open_arbiter
from .config import SupervisorConfig
from .proxy import Proxy
from .watcher import Launcher, pid_alive

log = logging.getLogger(__name__)


class AlreadyRunning(Exception):
    pass


class Supervisor:
    """A running supervisor, as seen by tests: its arbiter and its bound address."""

    def __init__(self, arbiter: Arbiter, url: str) -> None:
        self.arbiter = arbiter
        self.url = url


def _take_pid_file(path: str) -> None:
    try:
        with open(path) as f:
            old = int(f.read().strip() or 0)
    except (OSError, ValueError):
        old = 0
    if old and old != os.getpid() and pid_alive(old) and _is_supervisor(old):
        raise AlreadyRunning(f"a supervisor (pid {old}) already runs with pid file {path}")
    atomic_write(path, str(os.getpid()).encode(), durable=False)


def _is_supervisor(pid: int) -> bool:
    """Guard against a recycled pid: does that process look like one of us?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"openwx" in f.read()
    except OSError:
        return True  # no /proc: trust the pid


def _release_pid_file(path: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass


def _hypercorn_config(listen: str) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [listen]
    hc.accesslog = None
    hc.graceful_timeout = 1.0
    hc.keep_alive_timeout = 75.0
    return hc


@asynccontextmanager
async def open_supervisor(config: SupervisorConfig, *, launcher: Launcher | None = None
                          ) -> AsyncIterator[Supervisor]:
    """Run the supervisor in the background of the caller's block (tests, the CLI)."""
    os.makedirs(config.effective_tmpdir, exist_ok=True)
    _take_pid_file(config.pid_path)
    try:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        timeout = httpx.Timeout(config.proxy_timeout, connect=10.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as http:
            async with open_arbiter(config, launcher=launcher) as arbiter:
                async with trio.open_nursery() as nursery:
                    app = ControllerApp(arbiter, Proxy(http), access_token=config.access_token)
                    binds = await nursery.start(serve, app, _hypercorn_config(config.listen))
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
        _release_pid_file(config.pid_path)


async def run_supervisor(config: SupervisorConfig, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run until SIGTERM or SIGINT, then stop every worker and return."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with open_supervisor(config) as sup:
            task_status.started(sup)
            async for signum in signals:
                log.info("received %s: stopping every worker", signal.Signals(signum).name)
                break
