"""webwxrevokemsg (web-protocol.md 8.5, strict 11): own web-sent messages, within 2 minutes
of (trio) time; Ret -1 with empty texts otherwise; a 10002 for the peer.
"""

from __future__ import annotations

import re

import httpx
import trio
from sim_webclient import ALICE, BOB, WebClient

from wechat_sim.testing import open_sim

CAROL = "wxid_carol0000000001"


def no_timeout_client() -> httpx.AsyncClient:
    """A client without timeouts: under autojump_clock a timeout is a trio deadline the clock
    could jump to while loopback I/O is merely slow."""
    return httpx.AsyncClient(timeout=None)


async def revoke(web, svr_msg_id: str, to: str, client_msg_id: str = "1546214741416.052") -> dict:
    return await web.post(
        "webwxrevokemsg",
        {"BaseRequest": web.base_request(), "ClientMsgId": client_msg_id,
         "SvrMsgId": svr_msg_id, "ToUserName": to},
    )  # fmt: skip


async def logged_in(http, sim, wxid) -> WebClient:
    web = await WebClient(http, sim.base_url).log_in(wxid)
    web.names = {c["NickName"]: c["UserName"] for c in await web.all_contacts()}
    await web.sync()
    return web


async def test_revoke_within_the_window_reaches_the_peer(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, no_timeout_client() as a_http, no_timeout_client() as b_http:
        sim.world.config.echo_sent = True
        alice = await logged_in(a_http, sim, ALICE)
        bob = await logged_in(b_http, sim, BOB)
        sent = await alice.send_text(alice.names["Bob"], "oops")
        [copy] = [m for m in (await bob.sync())["AddMsgList"] if m["MsgType"] == 1]
        await trio.sleep(100)
        answer = await revoke(alice, sent["MsgID"], alice.names["Bob"])
        assert answer["BaseResponse"]["Ret"] == 0
        assert answer["SysWording"] == "已撤回" and "2分钟" in answer["Introduction"]
        [notice] = [m for m in (await bob.sync())["AddMsgList"] if m["MsgType"] == 10002]
        assert notice["Status"] == 4
        assert f"&lt;msgid&gt;{copy['MsgId']}&lt;/msgid&gt;" in notice["Content"]
        assert '"Alice" 撤回了一条消息' in notice["Content"]
        mine = [m for m in (await alice.sync())["AddMsgList"] if m["MsgType"] == 10002]
        assert mine and "你撤回了一条消息" in mine[0]["Content"]
        assert re.search(rf"msgid&gt;{sent['MsgID']}&lt;", mine[0]["Content"])
        records = (await alice.control("GET", f"/sim/accounts/{ALICE}/sent")).json()
        assert [r["revoked"] for r in records] == [True]


async def test_revoke_after_two_minutes_is_refused(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, no_timeout_client() as http:
        alice = await logged_in(http, sim, ALICE)
        sent = await alice.send_text("filehelper", "too late")
        in_time = await alice.send_text("filehelper", "just in time")
        await trio.sleep(119)  # still inside the 2-minute window
        assert (await revoke(alice, in_time["MsgID"], "filehelper"))["BaseResponse"]["Ret"] == 0
        await alice.sync()
        await trio.sleep(2)  # 121 s: past it
        answer = await revoke(alice, sent["MsgID"], "filehelper")
        assert answer["BaseResponse"]["Ret"] == -1
        assert answer["Introduction"] == "" and answer["SysWording"] == ""
        assert not [m for m in (await alice.sync())["AddMsgList"] if m["MsgType"] == 10002]


async def test_revoke_in_a_group_names_the_groups_copy(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, no_timeout_client() as a_http, no_timeout_client() as b_http:
        alice = await logged_in(a_http, sim, ALICE)
        bob = await logged_in(b_http, sim, BOB)
        team = alice.names["测试群"]
        sent = await alice.send_text(team, "大家好")
        [copy] = [m for m in (await bob.sync())["AddMsgList"] if m["MsgType"] == 1]
        assert (await revoke(alice, sent["MsgID"], team))["BaseResponse"]["Ret"] == 0
        [notice] = [m for m in (await bob.sync())["AddMsgList"] if m["MsgType"] == 10002]
        assert notice["FromUserName"] == copy["FromUserName"]  # the group
        assert copy["MsgId"] in notice["Content"] and "@chatroom" in notice["Content"]


async def test_only_own_messages_with_the_right_target(web, sim):
    alice = await logged_in(web.http, sim, ALICE)
    sent = await alice.send_text("filehelper", "mine")
    wrong_target = await revoke(alice, sent["MsgID"], alice.names["Carol"])
    assert wrong_target["BaseResponse"]["Ret"] == -1
    r = await alice.control(
        "POST", f"/sim/accounts/{ALICE}/messages", {"from": CAROL, "content": "hers"}
    )
    theirs = await revoke(alice, r.json()["msg_id"], alice.names["Carol"])
    assert theirs["BaseResponse"]["Ret"] == -1
    assert (await revoke(alice, "12345", "filehelper"))["BaseResponse"]["Ret"] == -1
    assert (await revoke(alice, sent["MsgID"], "filehelper"))["BaseResponse"]["Ret"] == 0
