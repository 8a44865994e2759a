"""Helpers for tests and benchmarks of the API: serve an app on loopback.

``async with serve_app(app) as base_url:`` runs hypercorn (trio worker) on
``127.0.0.1:0`` in a nursery of its own and yields ``http://127.0.0.1:PORT``;
leaving the block shuts the server down gracefully (lifespan included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve


def hypercorn_config(host: str = "127.0.0.1", port: int = 0) -> Config:
    """The hypercorn settings the API expects (no access log, long-poll friendly)."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 120  # check_event and consult hold requests for long
    # hypercorn closes a connection after 1,000 requests by default; a bot that keeps
    # one connection open would reconnect every 1,000 calls for no benefit.
    config.keep_alive_max_requests = 1_000_000
    config.graceful_timeout = 1.0
    return config


@asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` on ``host``, a free port; yield its base URL."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(serve, app, hypercorn_config(host), shutdown_trigger=shutdown.wait)
        )
        try:
            yield binds[0]
        finally:
            shutdown.set()
