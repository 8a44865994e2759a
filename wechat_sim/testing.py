"""`open_sim`: a simulator on 127.0.0.1, port 0, for tests of any package.

    async with open_sim(auto_confirm=True) as sim:
        httpx.AsyncClient(base_url=sim.base_url) ...   # protocol and /sim/ control API
        sim.world.accounts ...                          # the backend, for direct checks

The server lives in a nursery owned by the context manager; leaving the block stops it.
Pass `world=` (e.g. `wechat_sim.worldgen.generate(...)`) or `config=` to change the world.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from wechat_sim.server import serve
from wechat_sim.world import SimConfig, World
from wechat_sim.worldgen import default_world


@dataclass
class RunningSim:
    world: World
    base_url: str  # e.g. "http://127.0.0.1:54321"

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def accounts(self) -> list[str]:
        """Account wxids in world order (the default world: Alice, then Bob)."""
        return list(self.world.accounts)


@asynccontextmanager
async def open_sim(
    world: World | None = None,
    auto_confirm: bool = False,
    *,
    config: SimConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[RunningSim]:
    if world is None:
        world = default_world(config)
    elif config is not None:
        world.config = config
    if auto_confirm:
        world.config.auto_confirm = True
    async with trio.open_nursery() as nursery:
        base_url = await nursery.start(serve, world, host, port)
        try:
            yield RunningSim(world, base_url)
        finally:
            nursery.cancel_scope.cancel()
