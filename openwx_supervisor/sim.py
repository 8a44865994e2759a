"""``openwx-supervisor start --sim``: an embedded wechat_sim for demos and benchmarks.

The simulator runs in the supervisor's process (its own nursery), auto-confirms
every QR login, and has at least as many phones as there are accounts, so every
worker logs in by itself. Imported lazily: the supervisor does not depend on
the simulator otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def open_embedded_sim(accounts: int = 2) -> AsyncIterator[str]:
    """Yield the base URL of a running simulator with ``accounts`` phones (at least 10)."""
    from wechat_sim.testing import open_sim
    from wechat_sim.world import SimConfig
    from wechat_sim.worldgen import generate

    world = generate(accounts=max(accounts, 10), friends=20,
                     config=SimConfig(auto_confirm=True, auto_delay=0.2))
    async with open_sim(world, auto_confirm=True) as sim:
        yield sim.base_url
