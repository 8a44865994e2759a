"""Reply shapes of the `/sim/` control endpoints issue 3 names, and the documented keys of
webwxsync's answer (web-protocol.md 6.2, 12.4) that clients index blindly."""

from __future__ import annotations

import re

import pytest
from sim_webclient import ALICE, BOB, inject, names_by_nick, redirect_of

MSG_ID = re.compile(r"\d{17,20}")  # uint64 decimal string, ~19 digits (12.1)


async def test_account_detail_names_every_friend_group_and_member(http, sim, web):
    detail = (await http.get(f"{sim.base_url}/sim/accounts/{ALICE}")).json()
    world = sim.world
    assert (detail["wxid"], detail["nickname"], detail["logged_in"]) == (ALICE, "Alice", False)
    assert [f["wxid"] for f in detail["friends"]] == list(world.accounts[ALICE].friends)
    for friend in detail["friends"]:
        assert friend["nickname"] == world.people[friend["wxid"]].nickname != ""
    groups = {g["wxid"]: g for g in detail["groups"]}
    assert set(groups) == {"1234567890@chatroom", "2345678901@chatroom"}
    for gid, group in groups.items():
        members = [m["wxid"] for m in group["members"]]
        assert members == world.groups[gid].members
        for m in group["members"]:
            assert m["nickname"] == world.people[m["wxid"]].nickname != ""
    assert groups["2345678901@chatroom"]["owner"] == "wxid_carol0000000001"
    # logged_in follows the account's web session, per account
    await web.qr_login(BOB)
    listing = {
        a["wxid"]: a["logged_in"] for a in (await http.get(sim.base_url + "/sim/accounts")).json()
    }
    assert listing == {ALICE: False, BOB: True}
    assert (await http.get(f"{sim.base_url}/sim/accounts/{BOB}")).json()["logged_in"] is True
    await http.post(f"{sim.base_url}/sim/accounts/{BOB}/logout", json={"retcode": 1101})
    assert (await http.get(f"{sim.base_url}/sim/accounts/{BOB}")).json()["logged_in"] is False


async def test_logins_listing_follows_a_uuid_through_its_states(web, sim):
    async def state_of(uuid: str) -> str:
        listed = (await web.control("GET", "/sim/logins")).json()
        [entry] = [e for e in listed if e["uuid"] == uuid]
        assert {"uuid", "state"} <= set(entry)
        return entry["state"]

    assert (await web.control("GET", "/sim/logins")).json() == []
    uuid = await web.jslogin()
    assert await state_of(uuid) == "waiting"
    r = await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    assert r.json() == {"uuid": uuid, "state": "scanned", "account": ALICE}
    assert await state_of(uuid) == "scanned"
    assert (await web.control("POST", f"/sim/logins/{uuid}/confirm")).json()["state"] == "confirmed"
    assert await state_of(uuid) == "confirmed"
    code, body = await web.poll(uuid)
    code, body = (await web.poll(uuid)) if code == 201 else (code, body)
    assert code == 200
    web.take_xml(await web.exchange(redirect_of(body)))
    assert await state_of(uuid) == "done"
    # a QR that times out on the phone: the listing says so and the poll answers 400
    other = await web.jslogin()
    assert (await web.control("POST", f"/sim/logins/{other}/expire")).json()["state"] == "expired"
    assert await state_of(other) == "expired"
    assert await web.poll(other) == (400, "window.code=400;")
    r = await web.control("POST", f"/sim/logins/{other}/scan", {"account": BOB})
    assert r.status_code == 400


async def test_sent_lists_to_type_content_msg_id_and_time(alice, sim):
    contacts = names_by_nick(await alice.all_contacts())
    before = sim.world.unix()
    first = await alice.send_text(contacts["Carol"], "one")
    second = await alice.send_text(contacts["测试群"], "two")
    sent = (await alice.control("GET", f"/sim/accounts/{ALICE}/sent")).json()
    assert [(s["to"], s["type"], s["content"], s["msg_id"]) for s in sent] == [
        ("wxid_carol0000000001", "text", "one", first["MsgID"]),
        ("1234567890@chatroom", "text", "two", second["MsgID"]),
    ]
    for entry in sent:
        assert MSG_ID.fullmatch(entry["msg_id"])
        assert isinstance(entry["time"], int) and entry["time"] >= before  # unix seconds
    assert sent[0]["time"] <= sent[1]["time"]
    assert (await alice.control("GET", f"/sim/accounts/{BOB}/sent")).json() == []
    assert (await alice.control("GET", "/sim/accounts/wxid_nobody/sent")).status_code == 404


@pytest.mark.parametrize("retcode", [1100, 1101, 1102])
async def test_phone_logout_ends_the_session_with_its_retcode(alice, retcode):
    r = await alice.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": retcode})
    assert r.status_code == 200 and r.json() == {"ended": 1}
    assert await alice.synccheck() == (str(retcode), "0")
    assert (await alice.sync())["BaseResponse"]["Ret"] == retcode
    again = await alice.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": retcode})
    assert again.json() == {"ended": 0}  # nothing left to end; the old session never recovers
    assert await alice.synccheck() == (str(retcode), "0")


SYNC_KEYS = (
    "BaseResponse", "AddMsgCount", "AddMsgList", "ModContactCount", "ModContactList",
    "DelContactCount", "DelContactList", "ModChatRoomMemberCount", "ModChatRoomMemberList",
    "Profile", "ContinueFlag", "SyncKey", "SyncCheckKey", "SKey",
)  # fmt: skip
CONTACT_KEYS = (
    "UserName", "NickName", "RemarkName", "Sex", "VerifyFlag", "ContactFlag", "MemberCount",
    "MemberList", "EncryChatRoomId", "HeadImgUrl", "Signature", "Province", "City",
)  # fmt: skip
MSG_KEYS = (
    "MsgId", "NewMsgId", "FromUserName", "ToUserName", "MsgType", "Content", "Status",
    "ImgStatus", "CreateTime", "VoiceLength", "PlayLength", "FileName", "FileSize", "MediaId",
    "Url", "AppMsgType", "StatusNotifyCode", "StatusNotifyUserName", "RecommendInfo",
    "ForwardFlag", "AppInfo", "HasProductId", "Ticket", "SubMsgType", "OriContent",
)  # fmt: skip


async def test_sync_answer_has_every_documented_key(alice):
    empty = await alice.sync()
    assert set(SYNC_KEYS) <= set(empty)
    assert (empty["AddMsgCount"], empty["AddMsgList"], empty["ModContactList"]) == (0, [], [])
    assert empty["Profile"]["BitFlag"] == 0 and "UserName" in empty["Profile"]
    msg_id = await inject(alice, {"from": "wxid_carol0000000001", "content": "hi"})
    r = await alice.control(
        "POST", "/sim/groups/2345678901@chatroom/members",
        {"wxids": ["wxid_erin00000000003"], "inviter": "wxid_carol0000000001"},
    )  # fmt: skip
    assert r.status_code == 200
    data = await alice.sync()
    assert set(SYNC_KEYS) <= set(data)
    # member changes arrive as the full group in ModContactList; the member list stays empty
    assert (data["ModChatRoomMemberCount"], data["ModChatRoomMemberList"]) == (0, [])
    [group] = data["ModContactList"]
    assert data["ModContactCount"] == 1 and set(CONTACT_KEYS) <= set(group)
    assert group["MemberCount"] == len(group["MemberList"]) == 4  # Family + Erin
    assert data["AddMsgCount"] == len(data["AddMsgList"]) == 2
    for m in data["AddMsgList"]:
        assert set(MSG_KEYS) <= set(m), set(MSG_KEYS) - set(m)
        assert MSG_ID.fullmatch(m["MsgId"]) and m["NewMsgId"] == int(m["MsgId"])
        assert {"UserName", "NickName", "Ticket", "Sex", "VerifyFlag"} <= set(m["RecommendInfo"])
    assert data["AddMsgList"][0]["MsgId"] == msg_id
    # MsgIds are unique and roughly increasing (12.1)
    later = await inject(alice, {"from": "wxid_carol0000000001", "content": "later"})
    assert int(later) > int(msg_id)


async def test_control_messages_answer_a_long_numeric_msg_id(alice, http, sim):
    for body in (
        {"from": "wxid_carol0000000001", "content": "x"},
        {"from": "wxid_carol0000000001", "type": "image"},
        {"from": "wxid_carol0000000001", "group": "1234567890@chatroom", "content": "g"},
    ):
        r = await http.post(f"{sim.base_url}/sim/accounts/{ALICE}/messages", json=body)
        assert r.status_code == 200 and set(r.json()) == {"msg_id"}
        assert isinstance(r.json()["msg_id"], str) and MSG_ID.fullmatch(r.json()["msg_id"])
    ids = [m["MsgId"] for m in (await alice.sync())["AddMsgList"]]
    assert len(ids) == len(set(ids)) == 3
