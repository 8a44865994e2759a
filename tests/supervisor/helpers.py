"""Shared pieces of the supervisor tests: a fast configuration, the stand-in worker, the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from openwx_supervisor.config import SupervisorConfig
from openwx_supervisor.policy import RestartPolicy

STANDIN = str(Path(__file__).with_name("standin_worker.py"))

FAST_RESTARTS = RestartPolicy(backoff_initial=0.05, backoff_max=0.4, healthy_reset=60,
                              flap_failures=4, flap_window=60)


def base_port() -> int:
    """Spread concurrent test runs over different port ranges (the allocator skips used ones)."""
    return 20000 + (os.getpid() * 37) % 20000


def free_port() -> int:
    """A loopback port free right now, for a supervisor run as a separate process (its --listen)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fast_config(tmp_path: Path, *, mode: str | None = "serve", **overrides) -> SupervisorConfig:
    """Short intervals; ``mode`` selects the stand-in worker, None the real one."""
    values = dict(
        listen="127.0.0.1:0",
        backend_start_port=base_port(),
        tmpdir=str(tmp_path / "tmp"),
        data_root=str(tmp_path / "data"),
        check_interval=0.2,
        start_timeout=20.0,
        probe_failures=2,
        graceful_timeout=3.0,
        restart=FAST_RESTARTS,
    )
    if mode is not None:
        values["worker_command"] = (sys.executable, STANDIN, "--mode", mode)
    values.update(overrides)
    return SupervisorConfig(**values)


@asynccontextmanager
async def open_cli(*args: str, stderr: Any = subprocess.DEVNULL) -> AsyncIterator[trio.Process]:
    """``openwx-supervisor ARGS`` in a process of its own; killed on the way out if still running."""
    argv = [sys.executable, "-c", "from openwx_supervisor.cli import main; main()", *args]
    proc = await trio.lowlevel.open_process(argv, stderr=stderr)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def poll_until(check: Callable[[], Awaitable[object]]) -> None:
    """Await ``check()`` every 0.1 s until it is true (callers bound it with fail_after);
    a supervisor not answering yet (connection refused, no client listed) counts as false."""
    while True:
        try:
            if await check():
                return
        except (httpx.TransportError, IndexError, KeyError):
            pass
        await trio.sleep(0.1)
