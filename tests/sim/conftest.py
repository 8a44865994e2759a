"""Fixtures for the simulator's own tests: a running sim and a protocol client for it."""

from __future__ import annotations

import httpx
import pytest
from sim_webclient import ALICE, WebClient

from wechat_sim.testing import open_sim


@pytest.fixture
async def sim():
    async with open_sim() as running:
        yield running


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


@pytest.fixture
def web(sim, http) -> WebClient:
    return WebClient(http, sim.base_url)


@pytest.fixture
async def alice(web) -> WebClient:
    """The web client logged in as Alice, after webwxinit."""
    return await web.log_in(ALICE)
