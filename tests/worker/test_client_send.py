"""Sending through the paced queue, and the operations, against the simulator."""

from __future__ import annotations

import httpx
import pytest
import trio

from openwx_worker.errors import NotFound
from openwx_worker.testing import running_client

ALICE = "wxid_alice0000000001"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


async def _sent(sim):
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        return (await http.get(f"/sim/accounts/{ALICE}/sent")).json()


def _reports(h):
    return [i for i in h.events.read_after(0, 10_000) if getattr(i, "post_type", "") ==
            "send_message"]


async def test_send_text_returns_msg_id_and_reports_once(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        result = await h.client.send_text(carol.id, "hello Carol\nbye")
        assert result.msg_id.isdigit() and result.id == f"{result.msg_id}:{carol.id}"
        sent = await _sent(sim)
        assert [(s["content"], s["msg_id"]) for s in sent][-1:] == [
            ("hello Carol\nbye", result.msg_id)]
        # The simulator echoes web sends in the next sync: still one report only.
        await trio.sleep(5)
        reports = [r for r in _reports(h) if r.id.startswith(result.msg_id)]
        assert len(reports) == 1
        r = reports[0]
        assert r.msg_class == "send" and r.source == "local" and r.from_ == "api"
        assert r.receiver == "Carol" and r.content == "hello Carol\nbye" and r.code == ""


async def test_send_to_unknown_chat_is_not_found(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        with pytest.raises(NotFound):
            await h.client.send_text("@nobody", "x")


async def test_sends_are_paced(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(
            sim, tmp_path, send_interval=3.0) as h:
        helper = "filehelper"
        times = []

        async def send(i):
            await h.client.send_text(helper, f"m{i}")
            times.append(trio.current_time())

        async with trio.open_nursery() as n:
            for i in range(3):
                n.start_soon(send, i)
        times.sort()
        assert times[1] - times[0] >= 3 and times[2] - times[1] >= 3
