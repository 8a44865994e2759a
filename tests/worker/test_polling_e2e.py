"""poll_api end to end: a worker on the simulator is told, through a 302, to send a message."""

from __future__ import annotations

import httpx
import pytest
import trio
from events_webhook import open_webhook

from openwx_worker.testing import running_worker
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.05
    return autojump_clock


async def test_poll_api_302_tunnel_calls_the_workers_own_api(tmp_path, clock):
    """心跳请求: the server answers a poll with 302 to http://127.0.0.1:3000/openwx/...;
    the worker (whatever port it really has) calls its own API, which sends."""
    location = "http://127.0.0.1:3000/openwx/send_friend_message?displayname=Carol&content=hello"
    async with open_sim(auto_confirm=True) as sim, open_webhook() as server:
        answers = iter([(302, "text/plain", b"", {"Location": location})])
        server.answer = lambda got: next(answers, (200, "text/plain", b"nothing"))
        poll_api = f"http://127.0.0.1:{server.port}/poll?token=x"
        async with running_worker(sim, tmp_path, poll_api=poll_api, poll_interval=5) as worker:
            assert worker.port != 3000

            async def sent():
                async with httpx.AsyncClient(base_url=sim.base_url) as http:
                    return (await http.get(f"/sim/accounts/{ALICE}/sent")).json()

            with trio.fail_after(60):
                while not await sent():  # noqa: ASYNC110 - polling the simulator's state
                    await trio.sleep(0.5)
            await trio.sleep(11)
            assert [(s["to"], s["content"]) for s in await sent()] == [(CAROL, "hello")]
    polls = [r for r in server.requests if r.target == "/poll?token=x"]
    assert len(polls) >= 3  # and it kept polling after the tunnel call, every 5 s
