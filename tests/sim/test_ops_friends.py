"""webwxverifyuser (web-protocol.md 9.4, strict 14): accepting a request (Opcode 3) and
sending one (Opcode 2), each visible in sync and in the control API.
"""

from __future__ import annotations

import httpx
import pytest
from sim_webclient import ALICE, BOB, WebClient

FRANK = "wxid_frank0000000009"
ERIN = "wxid_erin00000000003"


@pytest.fixture
async def alice(web):
    await web.qr_login(ALICE)
    assert (await web.init())["BaseResponse"]["Ret"] == 0
    await web.sync()
    return web


async def verify(web, opcode: int, value: str, ticket: str = "", greeting: str = "") -> dict:
    return await web.post(
        "webwxverifyuser",
        {"BaseRequest": web.base_request(), "Opcode": opcode, "VerifyUserListSize": 1,
         "VerifyUserList": [{"Value": value, "VerifyUserTicket": ticket}],
         "VerifyContent": greeting, "SceneListCount": 1, "SceneList": [33],
         "skey": web.creds.skey},
        r=1,
    )  # fmt: skip


async def request_from_frank(web) -> dict:
    r = await web.control(
        "POST", f"/sim/accounts/{ALICE}/friend_requests",
        {"from": {"wxid": FRANK, "nickname": "Frank"}, "greeting": "我是Frank"},
    )  # fmt: skip
    assert r.status_code == 200
    [msg] = [m for m in (await web.sync())["AddMsgList"] if m["MsgType"] == 37]
    return msg["RecommendInfo"]


async def friends(web, wxid=ALICE) -> set[str]:
    return {
        f["wxid"] for f in (await web.control("GET", f"/sim/accounts/{wxid}")).json()["friends"]
    }


async def test_accept_a_friend_request(alice):
    info = await request_from_frank(alice)
    assert info["Ticket"].startswith("v2_") and info["Content"] == "我是Frank"
    answer = await verify(alice, 3, info["UserName"], info["Ticket"])
    assert answer["BaseResponse"]["Ret"] == 0
    data = await alice.sync()
    [frank] = data["ModContactList"]
    assert frank["UserName"] == info["UserName"] and frank["NickName"] == "Frank"
    assert [m["Content"] for m in data["AddMsgList"] if m["MsgType"] == 10000] == [
        "你已添加了Frank，现在可以开始聊天了。"
    ]
    assert FRANK in await friends(alice)
    again = await verify(alice, 3, info["UserName"], info["Ticket"])  # no longer pending
    assert again["BaseResponse"]["Ret"] != 0


async def test_accept_with_a_wrong_ticket_is_refused_and_itchats_empty_ticket_works(alice):
    info = await request_from_frank(alice)
    wrong = await verify(alice, 3, info["UserName"], "v2_" + "0" * 48 + "@stranger")
    assert wrong["BaseResponse"]["Ret"] != 0
    assert FRANK not in await friends(alice)
    assert (await verify(alice, 3, info["UserName"], ""))["BaseResponse"]["Ret"] == 0
    assert FRANK in await friends(alice)


async def test_strict_ticket_switch(alice, sim):
    sim.world.config.strict_verify_ticket = True
    info = await request_from_frank(alice)
    assert (await verify(alice, 3, info["UserName"], ""))["BaseResponse"]["Ret"] != 0


async def test_send_a_friend_request_to_a_group_member(alice):
    names = {c["NickName"]: c["UserName"] for c in await alice.all_contacts()}
    [team] = (await alice.batch([names["测试群"]]))["ContactList"]
    erin = {m["NickName"]: m["UserName"] for m in team["MemberList"]}["Erin"]
    answer = await verify(alice, 2, erin, greeting="你好，我是Alice")
    assert answer["BaseResponse"]["Ret"] == 0
    pending = (await alice.control("GET", f"/sim/accounts/{ALICE}/outgoing_requests")).json()
    assert [(p["wxid"], p["greeting"]) for p in pending] == [(ERIN, "你好，我是Alice")]
    assert ERIN not in await friends(alice)
    r = await alice.control("POST", f"/sim/accounts/{ALICE}/outgoing_requests/{ERIN}/accept")
    assert r.status_code == 200
    data = await alice.sync()
    assert [c["UserName"] for c in data["ModContactList"]] == [erin]
    assert [m["Content"] for m in data["AddMsgList"]] == [
        "我通过了你的朋友验证请求，现在我们可以开始聊天了"
    ]
    assert ERIN in await friends(alice)
    assert (await alice.control("GET", f"/sim/accounts/{ALICE}/outgoing_requests")).json() == []


async def test_request_between_two_simulated_accounts(alice, sim):
    names = {c["NickName"]: c["UserName"] for c in await alice.all_contacts()}
    bob_name = names["Bob"]
    for a, b in ((ALICE, BOB), (BOB, ALICE)):
        assert (await alice.control("DELETE", f"/sim/accounts/{a}/friends/{b}")).status_code == 200
    await alice.sync()
    async with httpx.AsyncClient(timeout=60) as bob_http:
        bob = await WebClient(bob_http, sim.base_url).log_in(BOB)
        assert (await verify(alice, 2, bob_name, greeting="加个好友"))["BaseResponse"]["Ret"] == 0
        [request] = [m for m in (await bob.sync())["AddMsgList"] if m["MsgType"] == 37]
        info = request["RecommendInfo"]
        assert info["NickName"] == "Alice" and info["Content"] == "加个好友"
        assert (await verify(bob, 3, info["UserName"], info["Ticket"]))["BaseResponse"]["Ret"] == 0
    assert ALICE in await friends(alice, BOB)
    assert BOB in await friends(alice, ALICE)
    data = await alice.sync()
    assert [c["UserName"] for c in data["ModContactList"]] == [bob_name]
    assert "我通过了你的朋友验证请求" in data["AddMsgList"][-1]["Content"]


async def test_unsupported_opcode(alice):
    info = await request_from_frank(alice)
    assert (await verify(alice, 4, info["UserName"], info["Ticket"]))["BaseResponse"]["Ret"] != 0
