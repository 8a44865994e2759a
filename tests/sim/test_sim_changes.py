"""Changes around an account that reach its web session through sync: friends added and
removed, group joins/leaves/renames with their notices, person renames, auto-replying contacts,
phone-side status notifies and profile edits, group posts to every member account."""

from __future__ import annotations

import httpx
import trio
from sim_webclient import ALICE, BOB, WebClient, names_by_nick

from wechat_sim.testing import open_sim


async def test_contact_and_group_changes_sync(alice, sim):
    base = f"/sim/accounts/{ALICE}"
    await alice.control("POST", f"{base}/friends", {"wxid": "wxid_new", "nickname": "Newbie"})
    data = await alice.sync()
    assert [c["NickName"] for c in data["ModContactList"]] == ["Newbie"]
    assert (
        data["AddMsgList"][0]["MsgType"] == 10000 and "Newbie" in data["AddMsgList"][0]["Content"]
    )
    newbie = data["ModContactList"][0]["UserName"]
    await alice.control("DELETE", f"{base}/friends/wxid_new")
    data = await alice.sync()
    assert data["DelContactList"] == [{"UserName": newbie, "ContactFlag": 0}]
    assert data["DelContactCount"] == 1
    # a member joins on invitation: full group + notice
    r = await alice.control(
        "POST",
        "/sim/groups/1234567890@chatroom/members",
        {"wxids": ["wxid_new"], "inviter": "wxid_carol0000000001"},
    )
    assert r.status_code == 200
    data = await alice.sync()
    (group,) = data["ModContactList"]
    assert group["MemberCount"] == 6 == len(group["MemberList"])
    assert data["AddMsgList"][0]["Content"] == '"Carol"邀请"Newbie"加入了群聊'
    # joining again changes nothing: refused, no "invited" notice about a member
    r = await alice.control(
        "POST",
        "/sim/groups/1234567890@chatroom/members",
        {"wxids": ["wxid_new", "wxid_erin00000000003"], "inviter": "wxid_carol0000000001"},
    )
    assert r.status_code == 400 and "already members" in r.json()["error"]
    assert (await alice.sync())["AddMsgCount"] == 0
    # voluntary leave: member list only, no notice
    await alice.control("POST", "/sim/groups/1234567890@chatroom/members/wxid_new/remove", {})
    data = await alice.sync()
    assert data["ModContactList"][0]["MemberCount"] == 5 and data["AddMsgCount"] == 0
    await alice.control(
        "POST", "/sim/groups/1234567890@chatroom/rename", {"topic": "新名", "by": ALICE}
    )
    data = await alice.sync()
    assert data["ModContactList"][0]["NickName"] == "新名"
    assert data["AddMsgList"][0]["Content"] == "你修改群名为“新名”"
    await alice.control("POST", "/sim/people/wxid_carol0000000001/rename", {"nickname": "Caroline"})
    assert await alice.synccheck() == ("0", "6")  # contact changes only, no message
    data = await alice.sync()
    assert data["AddMsgCount"] == 0
    assert "Caroline" in [c["NickName"] for c in data["ModContactList"]]


async def test_auto_replying_contact_answers_after_its_delay(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = await WebClient(http, sim.base_url).log_in(ALICE)
        rule = {"contact": "wxid_carol0000000001", "reply": "收到", "delay": 3}
        assert (
            await web.control("POST", f"/sim/accounts/{ALICE}/auto_replies", rule)
        ).status_code == 200
        group_rule = {
            "contact": "1234567890@chatroom",
            "member": "wxid_dave00000000002",
            "delay": 1,
        }
        assert (
            await web.control("POST", f"/sim/accounts/{ALICE}/auto_replies", group_rule)
        ).status_code == 200
        contacts = names_by_nick(await web.all_contacts())
        await web.send_text(contacts["Carol"], "ping")
        await web.send_text(contacts["测试群"], "hello all")
        await web.sync()  # the two echoes
        start = trio.current_time()
        replies = []
        while len(replies) < 2:
            assert await web.synccheck() == ("0", "2")
            replies += (await web.sync())["AddMsgList"]
        assert 2.9 <= trio.current_time() - start <= 4
        echo, answer = sorted(
            replies, key=lambda m: m["FromUserName"].startswith("@@"), reverse=True
        )
        assert echo["Content"] == f"{contacts['Dave 大卫']}:<br/>hello all"
        assert (answer["FromUserName"], answer["Content"]) == (contacts["Carol"], "收到")
        bad = {"contact": "1234567890@chatroom", "delay": 1}
        assert (
            await web.control("POST", f"/sim/accounts/{ALICE}/auto_replies", bad)
        ).status_code == 400


async def test_phone_side_status_notify(alice):
    contacts = names_by_nick(await alice.all_contacts())
    r = await alice.control(
        "POST", f"/sim/accounts/{ALICE}/status_notify", {"code": 2, "chat": "1234567890@chatroom"}
    )
    assert r.status_code == 200
    assert await alice.synccheck() == ("0", "7")
    (msg,) = (await alice.sync())["AddMsgList"]
    assert (msg["MsgType"], msg["StatusNotifyCode"]) == (51, 2)
    assert msg["StatusNotifyUserName"] == contacts["测试群"] == msg["ToUserName"]
    bad = await alice.control(
        "POST", f"/sim/accounts/{ALICE}/status_notify", {"code": 9, "chat": "filehelper"}
    )
    assert bad.status_code == 400


async def test_join_notices_in_each_accounts_words(sim, http):
    alice = await WebClient(http, sim.base_url).log_in(ALICE)
    async with httpx.AsyncClient(timeout=60) as http2:
        bob = await WebClient(http2, sim.base_url).log_in(BOB)
        # Carol invites Bob into Family (Carol, Alice, Dave)
        await alice.control(
            "POST",
            "/sim/groups/2345678901@chatroom/members",
            {"wxids": [BOB], "inviter": "wxid_carol0000000001"},
        )
        alice_sync, bob_sync = await alice.sync(), await bob.sync()
        assert alice_sync["AddMsgList"][0]["Content"] == '"Carol"邀请"Bobby"加入了群聊'
        assert (
            bob_sync["AddMsgList"][0]["Content"]
            == '"Carol"邀请你加入了群聊，群聊参与人还有：Alice、Dave 大卫'
        )
        assert bob_sync["ModContactList"][0]["NickName"] == "Family"  # the group is new to Bob
        # Erin joins by scanning Alice's QR code
        await alice.control(
            "POST",
            "/sim/groups/2345678901@chatroom/members",
            {"wxids": ["wxid_erin00000000003"], "inviter": ALICE, "qr": True},
        )
        assert (await alice.sync())["AddMsgList"][0][
            "Content"
        ] == '"Erin"通过扫描你分享的二维码加入群聊'
        assert (await bob.sync())["AddMsgList"][0][
            "Content"
        ] == '"Erin"通过扫描"Alice"分享的二维码加入群聊'


async def test_own_profile_change_arrives_as_profile(alice):
    r = await alice.control(
        "POST", f"/sim/accounts/{ALICE}/profile", {"nickname": "Alice🌸", "signature": "new"}
    )
    assert r.status_code == 200
    assert await alice.synccheck() == ("0", "4")
    profile = (await alice.sync())["Profile"]
    assert profile["BitFlag"] == 190 and profile["Signature"] == "new"
    assert profile["NickName"] == {"Buff": 'Alice<span class="emoji emoji1f338"></span>'}
    assert profile["UserName"]["Buff"] == alice.creds.user["UserName"]
    assert (await alice.sync())["Profile"]["BitFlag"] == 0


async def test_group_message_reaches_every_member_account_with_mentions(sim, http):
    alice = await WebClient(http, sim.base_url).log_in(ALICE)
    async with httpx.AsyncClient(timeout=60) as http2:
        bob = await WebClient(http2, sim.base_url).log_in(BOB)
        r = await alice.control(
            "POST", "/sim/groups/1234567890@chatroom/messages",
            {"from": "wxid_carol0000000001", "content": "看这里", "mention": [ALICE, "wxid_carol0000000001"]},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        (a,) = (await alice.sync())["AddMsgList"]
        (b,) = (await bob.sync())["AddMsgList"]
        assert a["MsgId"] == b["MsgId"] == r.json()["msg_id"]
        assert a["Content"].split(":<br/>", 1)[1] == "@Alice\u2005@卡罗尔\u2005看这里"
        assert a["FromUserName"].startswith("@@") and b["FromUserName"].startswith("@@")
        bad = await alice.control(
            "POST", "/sim/groups/2345678901@chatroom/messages", {"from": "wxid_erin00000000003"}
        )
        assert bad.status_code == 400  # Erin is not in Family
        bad = await alice.control(
            "POST",
            f"/sim/accounts/{ALICE}/messages",
            {"from": "wxid_carol0000000001", "mention": [ALICE]},
        )
        assert bad.status_code == 400  # mentions only in a group
