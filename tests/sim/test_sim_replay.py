"""The service delivers a message a second time, with its original MsgId (wechat_sim/replay.py).

The client here (sim_webclient, plain httpx written from web-protocol.md) does not
de-duplicate: it sees the same MsgId twice, which is what a client must be ready for.
"""

from __future__ import annotations

import httpx
import pytest
from sim_webclient import ALICE, WebClient

from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig

CAROL = "wxid_carol0000000001"
DAVE = "wxid_dave00000000002"


async def say(web: WebClient, content: str, sender: str = CAROL, **extra) -> str:
    r = await web.control(
        "POST", f"/sim/accounts/{ALICE}/messages", {"from": sender, "content": content, **extra}
    )
    assert r.status_code == 200, r.text
    return r.json()["msg_id"]


async def synced(web: WebClient) -> list[tuple[str, str]]:
    """(MsgId, Content) of every message of one webwxsync, status notifies left out."""
    data = await web.sync()
    assert data["BaseResponse"]["Ret"] == 0, data
    return [(m["MsgId"], m["Content"]) for m in data["AddMsgList"] if m["MsgType"] != 51]


async def logged_in(web: WebClient) -> WebClient:
    await web.qr_login(ALICE)
    assert (await web.init())["BaseResponse"]["Ret"] == 0
    return web


async def test_replay_endpoint_requeues_last_received_with_original_msg_ids(web):
    await logged_in(web)
    first = await say(web, "first")
    second = await say(web, "second", sender=DAVE)
    phone = await say(web, "from my phone", sender=ALICE, to=CAROL)  # sent, not received
    assert [i for i, _ in await synced(web)] == [first, second, phone]
    assert await synced(web) == []

    r = await web.control("POST", f"/sim/accounts/{ALICE}/replay", {"count": 2})
    assert r.status_code == 200, r.text
    assert r.json() == {"msg_ids": [first, second], "sessions": 1}
    assert await web.synccheck() == ("0", "2")  # the live session is woken at once
    assert await synced(web) == [(first, "first"), (second, "second")]
    assert await synced(web) == []


async def test_a_client_that_does_not_deduplicate_sees_the_msg_id_twice(web):
    await logged_in(web)
    msg_id = await say(web, "hello")
    seen = [i for i, _ in await synced(web)]
    r = await web.control("POST", f"/sim/accounts/{ALICE}/replay", {"count": 1})
    assert r.json()["msg_ids"] == [msg_id]
    seen += [i for i, _ in await synced(web)]
    assert seen == [msg_id, msg_id]


async def test_replay_endpoint_inputs(web):
    r = await web.control("POST", f"/sim/accounts/{ALICE}/replay", {"count": 1})
    assert r.json() == {"msg_ids": [], "sessions": 0}  # no history, nobody logged in
    await logged_in(web)
    await say(web, "hello")
    r = await web.control("POST", f"/sim/accounts/{ALICE}/replay", {"count": 0})
    assert r.json() == {"msg_ids": [], "sessions": 1}
    r = await web.control("POST", f"/sim/accounts/{ALICE}/replay", {"count": -1})
    assert r.status_code == 400
    r = await web.control("POST", f"/sim/accounts/{ALICE}/replay", {"cuont": 1})
    assert r.status_code == 400 and "error" in r.json()
    r = await web.control("POST", "/sim/accounts/wxid_nobody/replay", {"count": 1})
    assert r.status_code == 404


async def test_default_config_replays_nothing_at_a_new_login(web):
    await logged_in(web)
    await say(web, "one")  # never synced: unacknowledged
    r = await web.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
    assert r.json() == {"ended": 1}
    await logged_in(web)
    assert await synced(web) == []


async def test_unacknowledged_messages_go_to_the_next_login():
    """replay_unacked: what the ended session's client never acknowledged (no SyncKey past
    it) comes to the next login; what it acknowledged does not."""
    async with (
        open_sim(config=SimConfig(replay_unacked=True)) as sim,
        httpx.AsyncClient(timeout=60) as http,
    ):
        web = await logged_in(WebClient(http, sim.base_url))
        zero = await say(web, "zero")
        assert await synced(web) == [(zero, "zero")]
        one = await say(web, "one")
        assert await synced(web) == [(one, "one")]  # this sync's key acknowledges "zero"
        two = await say(web, "two")  # never synced
        r = await web.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": 1100})
        assert r.json() == {"ended": 1}
        old_user = web.creds.user["UserName"]
        await logged_in(web)
        assert await web.synccheck() == ("0", "2")
        data = await web.sync()
        got = [(m["MsgId"], m["Content"], m["FromUserName"]) for m in data["AddMsgList"]]
        assert [(i, c) for i, c, _ in got] == [(one, "one"), (two, "two")]
        # rendered for the new session: this login's UserNames
        assert web.creds.user["UserName"] != old_user
        carol = {c["NickName"]: c["UserName"] for c in await web.all_contacts()}["Carol"]
        assert {f for _, _, f in got} == {carol}
        assert await synced(web) == []


@pytest.mark.parametrize("how", ["new login", "cookie resume"])
async def test_replay_on_login_requeues_recent_messages_at_each_init(how):
    """replay_on_login=N: every webwxinit (a new login, or a restarted client initialising
    its saved session again) gets the account's last N received messages again."""
    async with (
        open_sim(config=SimConfig(replay_on_login=2)) as sim,
        httpx.AsyncClient(timeout=60) as http,
    ):
        web = await logged_in(WebClient(http, sim.base_url))
        ids = [await say(web, text) for text in ("a", "b", "c")]
        assert [i for i, _ in await synced(web)] == ids
        assert await synced(web) == []  # acknowledges a, b, c (init would re-deliver otherwise)
        if how == "new login":
            await web.qr_login(ALICE)
        assert (await web.init())["BaseResponse"]["Ret"] == 0
        assert await synced(web) == [(ids[1], "b"), (ids[2], "c")]
        assert await synced(web) == []
        assert len([s for s in sim.world.sessions if s.alive]) == 1


async def test_replay_knobs_are_run_time_config(sim, http):
    r = await http.post(
        f"{sim.base_url}/sim/config", json={"replay_on_login": 3, "replay_unacked": True}
    )
    assert r.status_code == 200
    assert (r.json()["replay_on_login"], r.json()["replay_unacked"]) == (3, True)
    assert (sim.world.config.replay_on_login, sim.world.config.replay_unacked) == (3, True)
