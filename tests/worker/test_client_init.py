"""Initialisation of a large account, contacts fetched on demand, the own profile.

Against the simulator: it refuses a webwxbatchgetcontact of more than 50 names
(as the real service does), records every protocol request (``/sim/requests``)
and can hold a call for a while (a ``delay`` fault), which is how these tests see
batch sizes, the number of calls and how many are in flight.
"""

from __future__ import annotations

import math

import httpx
import pytest
import trio

from openwx_worker.state import ClientState
from openwx_worker.testing import is_event, running_client, sim_post, wait_item
from openwx_worker.text import emoji_name
from wechat_sim.testing import open_sim
from wechat_sim.worldgen import generate

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"
GROUPS = 260  # six batches of at most 50
DELAY = 20.0  # seconds the simulator holds each batch call


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


async def _requests(sim, path: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.get("/sim/requests", params={"path": path, "limit": 2000})
        r.raise_for_status()
        return r.json()


async def test_large_account_loads_in_batches_of_50_a_few_in_flight(tmp_path, clock, caplog):
    caplog.set_level("INFO", logger="openwx_worker.client_login")
    world = generate(friends=1100, groups=GROUPS, members=3, accounts=1, seed=4)
    calls = math.ceil(GROUPS / 50)
    async with open_sim(world=world, auto_confirm=True) as sim:
        await sim_post(sim, "/sim/faults", {"endpoint": "webwxbatchgetcontact",
                                            "kind": "delay", "delay": DELAY, "count": calls})
        async with running_client(sim, tmp_path, wait=False) as h:
            with trio.fail_after(3600):
                await h.client.machine.wait_state(ClientState.updating)
                began = trio.current_time()
                await h.client.wait_running()
            took = trio.current_time() - began
            book = h.client.contacts
            assert len(book.groups) == GROUPS
            assert all(len(g.member) == 3 for g in book.groups), "members of every group"
            assert len(book.friends) >= 1100
            batch_calls = await _requests(sim, "webwxbatchgetcontact")
            # The simulator answers a call of more than 50 names with an error, so every
            # group having its members means every call had at most 50.
            assert len(batch_calls) == calls
            assert all(c["status"] == 200 for c in batch_calls)
            # Each call is held DELAY seconds: one at a time would take calls × DELAY.
            assert DELAY <= took < (calls - 2) * DELAY, took
    progress = [r.getMessage() for r in caplog.records if "loading" in r.getMessage()]
    assert any(f"batch {calls} of {calls}" in p for p in progress), progress
    assert [p for p in progress if "loading contacts:" in p] == [
        "loading contacts: 1000 so far"], progress  # one line per 1,000, pages of 500


async def test_unknown_sender_is_fetched_once_then_known(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        book = h.client.contacts
        carol = book.first_friend(name="Carol")
        book.remove_friend(carol.id)  # as if the book had never heard of her
        before = len(await _requests(sim, "webwxbatchgetcontact"))
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages", {"from": CAROL, "content": "a"})
        msg = await wait_item(h, lambda i: getattr(i, "content", None) == "a", after=start)
        assert msg.sender == "Carol" and msg.sender_id == carol.id
        assert book.friend(carol.id) is not None
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages", {"from": CAROL, "content": "b"})
        await wait_item(h, lambda i: getattr(i, "content", None) == "b", after=start)
        assert len(await _requests(sim, "webwxbatchgetcontact")) == before + 1


async def test_own_profile_change_is_reported(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/profile",
                       {"nickname": "Alicia & 😄", "signature": "new sig"})
        changes = {}
        while set(changes) != {"name", "signature"}:
            ev = await wait_item(h, is_event("user_property_change"), after=start)
            start = ev.event_id
            user, prop, old, new = ev.params
            changes[prop] = (old, new)
        assert changes["signature"][1] == "new sig"
        assert changes["name"][0] == "Alice"
        assert h.client.user.name == changes["name"][1] == "Alicia & [" + emoji_name("😄") + "]"
