"""Faults the real service shows (web-protocol.md 6.1, 10.1) are survived with the session intact.

Each test injects failures through the simulator's /sim/faults, then checks that a
message sent afterwards still arrives, without a new login, and that the client
backed off (trio time passed) instead of spinning.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from openwx_worker.state import ClientState
from openwx_worker.testing import running_client, sim_post, wait_item
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


def _text(content):
    return lambda item: getattr(item, "content", None) == content


async def _pending(sim):
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        return (await http.get("/sim/faults")).json()


@pytest.mark.parametrize(
    ("endpoint", "kind", "extra"),
    [
        ("synccheck", "http_500", {}),
        ("synccheck", "drop", {}),
        ("synccheck", "garbage", {}),
        ("synccheck", "ret_1205", {}),
        ("synccheck", "delay", {"delay": 50.0}),
        ("webwxsync", "http_500", {"status": 503}),
        ("webwxsync", "ret_1205", {}),
        ("webwxsync", "drop", {}),
    ],
)
async def test_fault_is_survived(tmp_path, clock, endpoint, kind, extra):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        user = h.client.user.id
        logins = h.client.login_count
        start = h.events.last_event_id
        await sim_post(sim, "/sim/faults", {"endpoint": endpoint, "kind": kind, "count": 3,
                                            **extra})
        began = trio.current_time()
        if endpoint == "webwxsync":  # webwxsync is only called when synccheck says so
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "wake up"})
        with trio.fail_after(600):
            while await _pending(sim):  # noqa: ASYNC110 - the simulator is the signal
                await trio.sleep(0.5)
        # Three failures in a row are 1st call, backoff ≥ 0.5 s, 2nd, backoff ≥ 1 s, 3rd:
        # a client that retried at once (a busy loop) would use them up in no time.
        assert trio.current_time() - began >= extra.get("delay", 1.5)
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "content": "after the fault"})
        await wait_item(h, _text("after the fault"), after=start)
        if endpoint == "webwxsync":
            await wait_item(h, _text("wake up"), after=start)
        assert h.client.state is ClientState.running
        assert h.client.user.id == user and h.client.login_count == logins  # no re-login
