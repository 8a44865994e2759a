"""A web send echoed into the account's own sync is reported once, as the send.

With ``echo_sent`` the simulator queues the echo (a message from self) before it
answers webwxsendmsg, so the sync loop can see the echo before the send task has its
MsgID and has published.  The answer is made slow here (the real send already done on
the simulator, the answer handed back later), longer than the sync loop would ever hold
a self-sent message, so the echo always wins the race: the worker must still publish
one ``send_message`` (``from: api``) and nothing with ``source: outer``.  A message the
account really sent from its phone is still reported (``source: outer``).
"""

from __future__ import annotations

import httpx
import pytest
import trio

from openwx_worker.testing import running_client
from openwx_worker.webwx import send as wx_send

ALICE = "wxid_alice0000000001"
SLOW_ANSWER = 20.0  # longer than the old 10 s bounded wait of the sync loop


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


def _sends(h):
    return [i for i in h.events.read_after(0, 10_000)
            if getattr(i, "post_type", "") == "send_message"]


@pytest.fixture
def slow_answers(monkeypatch):
    """webwxsendmsg reaches the simulator at once; its answer comes SLOW_ANSWER later."""
    real = wx_send.send_text
    echoed = []

    async def slow(session, chat_id, content, local_id):
        msg_id = await real(session, chat_id, content, local_id)
        echoed.append(msg_id)
        await trio.sleep(SLOW_ANSWER)
        return msg_id

    monkeypatch.setattr(wx_send, "send_text", slow)
    return echoed


async def test_echo_before_the_answer_is_reported_once_as_the_send(
        tmp_path, clock, slow_answers):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        sim.world.config.echo_sent = True
        book = h.client.contacts
        carol = book.first_friend(name="Carol")
        group = book.groups[0]
        results = []
        for chat, text in ((group.id, "hello group"), (carol.id, "hello Carol"),
                           (group.id, "group again"), (carol.id, "Carol again")):
            results.append(await h.client.send_text(chat, text))
        assert slow_answers == [r.msg_id for r in results]
        await trio.sleep(5)  # any late echo has been synced by now
        sends = _sends(h)
        assert [s for s in sends if s.source == "outer"] == []
        for r in results:
            mine = [s for s in sends if s.id.split(":")[0] == r.msg_id]
            assert len(mine) == 1, mine
            assert mine[0].from_ == "api" and mine[0].source == "local"
            assert mine[0].id == r.id


async def test_echo_of_a_reply_keeps_from_code(tmp_path, clock, slow_answers):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        sim.world.config.echo_sent = True
        carol = h.client.contacts.first_friend(name="Carol")
        result = await h.client.send_text(carol.id, "a reply", origin="code")
        await trio.sleep(5)
        mine = [s for s in _sends(h) if s.id.split(":")[0] == result.msg_id]
        assert [(s.from_, s.source) for s in mine] == [("code", "local")]


async def test_phone_sent_messages_are_still_reported_during_a_send(
        tmp_path, clock, slow_answers):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        sim.world.config.echo_sent = True
        book = h.client.contacts
        carol = book.first_friend(name="Carol")
        carol_wxid = "wxid_carol0000000001"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(h.client.send_text, carol.id, "from the web")
            await trio.sleep(1)  # the send is in flight (its answer is slow)
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                for text in ("from the phone", "from the web"):  # same text as the send too
                    r = await http.post(f"/sim/accounts/{ALICE}/messages", json={
                        "from": ALICE, "to": carol_wxid, "type": "text", "content": text})
                    assert r.status_code == 200, r.text
        await trio.sleep(5)
        sends = _sends(h)
        outer = sorted(s.content for s in sends if s.source == "outer")
        assert outer == ["from the phone", "from the web"]
        local = [s for s in sends if s.source == "local"]
        assert [(s.content, s.from_) for s in local] == [("from the web", "api")]


async def test_phone_message_to_another_chat_is_not_held_by_a_slow_send(
        tmp_path, clock, slow_answers):
    """Only a self-sent message to the chat being sent to waits for the send's answer.

    (No echo here: an echo of the slow send would hold the sync loop until the answer,
    and what follows it in the sync with it.)
    """
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(h.client.send_text, carol.id, "slow one")
            await trio.sleep(1)
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                r = await http.post(f"/sim/accounts/{ALICE}/messages", json={
                    "from": ALICE, "to": "filehelper", "type": "text", "content": "note"})
                assert r.status_code == 200, r.text
            await trio.sleep(5)  # well before the send's answer (SLOW_ANSWER)
            assert [s.content for s in _sends(h)] == ["note"]
        assert sorted(s.content for s in _sends(h)) == ["note", "slow one"]
