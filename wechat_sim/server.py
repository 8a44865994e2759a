"""Serving a world over HTTP with hypercorn's trio worker."""

from __future__ import annotations

import logging

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from wechat_sim.protocol.app import create_app
from wechat_sim.timers import run_timers
from wechat_sim.world import World


def hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("wechat_sim.hypercorn")
    config.keep_alive_timeout = 75  # clients hold keep-alive connections between long-polls
    config.graceful_timeout = 0.5
    return config


async def serve(
    world: World,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; `task_status.started(base_url)` once listening (port 0 ok).

    Also runs the world's timers (auto-replies) for as long as it serves.
    """

    async def _serve(*, task_status=trio.TASK_STATUS_IGNORED):
        await hypercorn_serve(
            create_app(world), hypercorn_config(host, port), task_status=task_status
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_timers, world.timers)
        binds = await nursery.start(_serve)
        task_status.started(binds[0])
