"""Helpers for tests that need a real worker talking to an in-process simulator.

    async with open_sim(auto_confirm=True) as sim:
        async with running_worker(sim, tmp_path) as worker:
            # worker.client.state is running; worker.port serves /openwx/*
            ...

``running_worker`` builds a :class:`WorkerConfig` for the test (port 0, files under
``tmp_path``, ``--wechat-base`` = the simulator, no send pacing, no terminal QR)
and waits until the client is ``running`` (pass ``wait=False`` to drive the login
yourself, e.g. with :func:`scan_and_confirm`).  Keyword arguments override
config keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from openwx_worker.config import WorkerConfig
from openwx_worker.runtime import Worker, open_worker

LOGIN_TIMEOUT = 600.0  # trio seconds (tests use an autojump clock, so this is cheap)
TICK = 5.0  # see ticking


@asynccontextmanager
async def ticking() -> AsyncIterator[None]:
    """Keep a deadline at most TICK trio-seconds away while the block runs.

    With an autojump clock, time jumps to the next deadline whenever every task
    waits for a short real-time moment, for example while a state file is written
    in a worker thread (``trio.to_thread``).  Without a near deadline such a jump
    lands directly on a test's timeout.  With this ticker a jump moves time by at
    most TICK, so a timeout only fires after many real stalls in a row.
    """

    async def tick() -> None:
        while True:  # noqa: ASYNC110 - the sleep is the point: a near deadline
            await trio.sleep(TICK)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        yield
        nursery.cancel_scope.cancel()


def worker_config(sim: Any, tmp_path: Path | str, **overrides: Any) -> WorkerConfig:
    """A config for a test worker on ``sim`` with everything under ``tmp_path``."""
    base = Path(tmp_path)
    values: dict[str, Any] = {
        "account": "test", "port": 0, "tmpdir": str(base / "tmp"),
        "data_dir": str(base / "data"), "media_dir": str(base / "media"),
        "wechat_base": sim.base_url, "send_interval": 0.0, "qrcode_terminal": False,
        "log_level": "debug",
    }
    values.update(overrides)
    return WorkerConfig(**values)


class ClientHarness:
    """A client with its state machine and event log but no API server (see
    :func:`running_client`); has the attributes tests read on a Worker."""

    def __init__(self, config: WorkerConfig, state, events, client) -> None:
        self.config, self.state, self.events, self.client = config, state, events, client


@asynccontextmanager
async def running_client(sim: Any, tmp_path: Path | str, *, wait: bool = True,
                         **overrides: Any) -> AsyncIterator[ClientHarness]:
    """Just the client (state files, event log, WeixinClient) on ``sim``, no API server."""
    from openwx_worker.client import open_client
    from openwx_worker.events import open_event_log
    from openwx_worker.state import open_state

    config = worker_config(sim, tmp_path, **overrides)
    with open_state(config) as machine, open_event_log(config) as events:
        async with ticking(), open_client(config, machine, events) as client:
            if wait:
                with trio.fail_after(LOGIN_TIMEOUT):
                    await client.wait_running()
            yield ClientHarness(config, machine, events, client)


@asynccontextmanager
async def running_worker(sim: Any, tmp_path: Path | str, *, wait: bool = True,
                         **overrides: Any) -> AsyncIterator[Worker]:
    """A worker on ``sim``; with ``wait`` it is yielded once its client is running."""
    config = worker_config(sim, tmp_path, **overrides)
    async with ticking(), open_worker(config) as worker:
        if wait:
            with trio.fail_after(LOGIN_TIMEOUT):
                await worker.client.wait_running()
        yield worker


async def wait_for_login(sim: Any) -> str:
    """The uuid of the first pending QR login on the simulator (polls /sim/logins)."""
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        with trio.fail_after(LOGIN_TIMEOUT):
            while True:
                logins = (await http.get("/sim/logins")).json()
                waiting = [x for x in logins if x.get("state") == "waiting" and not x.get("push")]
                if waiting:
                    return waiting[-1]["uuid"]
                await trio.sleep(0.05)


async def scan_and_confirm(sim: Any, account: str | None = None, *, confirm: bool = True) -> str:
    """Play the phone: scan the pending QR code (as ``account``) and confirm it."""
    account = account or sim.accounts[0]
    uuid = await wait_for_login(sim)
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.post(f"/sim/logins/{uuid}/scan", json={"account": account})
        r.raise_for_status()
        if confirm:
            r = await http.post(f"/sim/logins/{uuid}/confirm")
            r.raise_for_status()
    return uuid


async def wait_item(worker: Any, predicate, *, after: int = 0):
    """The first message or event on the worker's log after ``after`` matching ``predicate``."""
    events = worker.events
    cursor = after
    with trio.fail_after(LOGIN_TIMEOUT):
        while True:
            for item in events.read_after(cursor, 1000):
                cursor = item.event_id or cursor
                if predicate(item):
                    return item
            await events.wait_after(cursor)


def is_event(name: str):
    """A predicate for :func:`wait_item`: an event called ``name``."""
    return lambda item: getattr(item, "event", None) == name


async def sim_post(sim: Any, path: str, body: Any = None) -> Any:
    """POST to the simulator's /sim/ control API; the decoded JSON answer."""
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.post(path, json=body if body is not None else {})
        r.raise_for_status()
        return r.json()
