"""Session calls: init, status notify, contacts, synccheck/webwxsync, sending, forced logout."""

from __future__ import annotations

import re

import httpx
import pytest
import trio
from sim_webclient import ALICE, BOB, CGI, WebClient

from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig


@pytest.fixture
async def alice(web):
    await web.qr_login(ALICE)
    init = await web.init()
    assert init["BaseResponse"]["Ret"] == 0
    return web


def names_by_nick(contacts: list[dict]) -> dict[str, str]:
    return {c["NickName"]: c["UserName"] for c in contacts}


async def test_init_answer_has_every_documented_key(web, sim):
    await web.qr_login(ALICE)
    data = await web.init()
    for key in ("BaseResponse", "Count", "ContactList", "SyncKey", "User", "ChatSet", "SKey",
                "ClientVersion", "SystemTime", "GrayScale", "InviteStartCount",
                "MPSubscribeMsgCount", "MPSubscribeMsgList", "ClickReportInterval"):  # fmt: skip
        assert key in data, key
    assert data["InviteStartCount"] == 40
    assert [kv["Key"] for kv in data["SyncKey"]["List"]] == [1, 2, 3, 1000]
    assert data["SyncKey"]["Count"] == 4
    user = data["User"]
    assert re.fullmatch(r"@[0-9a-f]{32}", user["UserName"]) and user["NickName"] == "Alice"
    assert user["Uin"] == sim.world.accounts[ALICE].uin
    assert data["ChatSet"].startswith("filehelper,") and data["ChatSet"].endswith(",")
    assert data["Count"] == len(data["ContactList"]) >= 1
    for group in (c for c in data["ContactList"] if c["UserName"].startswith("@@")):
        assert "MemberList" in group and re.fullmatch(r"@[0-9a-f]{32}", group["EncryChatRoomId"])


async def test_usernames_are_random_per_login(http, sim):
    a1 = WebClient(http, sim.base_url)
    await a1.qr_login(ALICE)
    first = names_by_nick(await a1.all_contacts())
    await a1.qr_login(ALICE)
    await a1.init()
    second = names_by_nick(await a1.all_contacts())
    assert first["Carol"] != second["Carol"]
    assert first["文件传输助手"] == second["文件传输助手"] == "filehelper"
    assert re.fullmatch(r"@[0-9a-f]{64}", second["Carol"])
    assert re.fullmatch(r"@@[0-9a-f]{64}", second["测试群"])
    # an id from the previous login is unknown now
    answer = await a1.send_text(first["Carol"], "hi")
    assert answer["BaseResponse"]["Ret"] != 0


async def test_getcontact_pages_by_seq():
    async with open_sim(config=SimConfig(contact_page=2)) as sim, httpx.AsyncClient() as http:
        web = WebClient(http, sim.base_url)
        await web.qr_login(ALICE)
        first = await web.getcontact()
        assert first["MemberCount"] == 2 and first["Seq"] != 0
        everyone = await web.all_contacts()
        nicks = {c["NickName"] for c in everyone}
        assert {
            "文件传输助手",
            "微信团队",
            "腾讯新闻",
            "Bob",
            "Carol",
            "Dave 大卫",
            "测试群",
            "Family",
        } == nicks
        official = next(c for c in everyone if c["NickName"] == "腾讯新闻")
        assert official["VerifyFlag"] & 8
        bob = next(c for c in everyone if c["NickName"] == "Bob")
        assert bob["RemarkName"] == "Bobby" and bob["Uin"] == 0 and bob["ContactFlag"] & 1


async def test_batchgetcontact_groups_with_members(alice):
    contacts = names_by_nick(await alice.all_contacts())
    group = contacts["测试群"]
    answer = await alice.batch([group, "@" + "0" * 64, contacts["Carol"]])
    assert answer["Count"] == 2  # the unknown name is omitted
    g = next(c for c in answer["ContactList"] if c["UserName"] == group)
    assert g["MemberCount"] == 5 == len(g["MemberList"])
    carol = next(m for m in g["MemberList"] if m["DisplayName"] == "卡罗尔")
    assert carol["UserName"] == contacts["Carol"]
    bob = next(m for m in g["MemberList"] if m["UserName"] == contacts["Bob"])
    assert bob["NickName"] == "Bobby"  # members who are friends show your remark
    too_many = await alice.batch([group] * 51)
    assert too_many["BaseResponse"]["Ret"] != 0


async def test_statusnotify_queues_the_recent_chat_list(alice):
    answer = await alice.statusnotify()
    assert answer["BaseResponse"]["Ret"] == 0 and re.fullmatch(r"\d{19}", answer["MsgID"])
    assert await alice.synccheck() == ("0", "7")
    data = await alice.sync()
    (msg,) = data["AddMsgList"]
    assert msg["MsgType"] == 51 and msg["StatusNotifyCode"] == 4
    ids = re.search(r"&lt;username&gt;([^&]+)&lt;/username&gt;", msg["Content"]).group(1).split(",")
    assert ids[0] == "filehelper" and any(i.endswith("@chatroom") for i in ids)
    assert len(msg["StatusNotifyUserName"].split(",")) == len(ids)
    assert (await alice.sync())["AddMsgCount"] == 0  # delivered once


async def test_synccheck_holds_then_answers_selector_0(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = WebClient(http, sim.base_url)
        await web.qr_login(ALICE)
        await web.init()
        start = trio.current_time()
        assert await web.synccheck() == ("0", "0")
        assert 24 <= trio.current_time() - start <= 26


async def test_synccheck_wakes_when_a_message_arrives(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = WebClient(http, sim.base_url)
        await web.qr_login(ALICE)
        await web.init()
        seen = {}

        async def check():
            seen["answer"] = await web.synccheck()
            seen["at"] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(check)
            await trio.sleep(5)
            start = trio.current_time()
            r = await web.control(
                "POST",
                f"/sim/accounts/{ALICE}/messages",
                {"from": "wxid_carol0000000001", "content": "hi"},
            )
            assert r.status_code == 200
        assert seen["answer"] == ("0", "2") and seen["at"] - start < 1


async def post(web: WebClient, body: dict, account: str = ALICE) -> str:
    r = await web.control("POST", f"/sim/accounts/{account}/messages", body)
    assert r.status_code == 200, r.text
    return r.json()["msg_id"]


async def test_sync_delivers_each_message_kind(alice, sim):
    contacts = names_by_nick(await alice.all_contacts())
    carol, group = contacts["Carol"], contacts["测试群"]
    carol_id = "wxid_carol0000000001"
    sent = {
        "text": await post(alice, {"from": carol_id, "content": "a < b\nline2"}),
        "image": await post(alice, {"from": carol_id, "type": "image"}),
        "voice": await post(alice, {"from": carol_id, "type": "voice", "seconds": 2}),
        "video": await post(alice, {"from": carol_id, "type": "video", "seconds": 7}),
        "emoji": await post(alice, {"from": carol_id, "type": "emoji"}),
        "card": await post(alice, {"from": carol_id, "type": "card", "card": "gh_0123456789ab"}),
        "link": await post(
            alice, {"from": carol_id, "type": "link", "title": "T", "url": "https://e.com/x"}
        ),
        "file": await post(
            alice, {"from": carol_id, "type": "file", "file_name": "a.txt", "content": "hello"}
        ),
        "location": await post(
            alice, {"from": carol_id, "type": "location", "content": "Somewhere"}
        ),
        "group": await post(
            alice, {"from": carol_id, "group": "1234567890@chatroom", "content": "in group"}
        ),
        "notice": await post(
            alice,
            {
                "from": carol_id,
                "group": "1234567890@chatroom",
                "type": "system",
                "content": "notice",
            },
        ),
        "phone": await post(alice, {"from": ALICE, "to": carol_id, "content": "from my phone"}),
    }
    sent["revoke"] = await post(alice, {"from": carol_id, "type": "revoke", "msg_id": sent["text"]})
    assert await alice.synccheck() == ("0", "2")
    data = await alice.sync()
    assert data["ContinueFlag"] == 0 and data["AddMsgCount"] == len(sent)
    by_id = {m["MsgId"]: m for m in data["AddMsgList"]}
    assert [m["MsgId"] for m in data["AddMsgList"]] == list(sent.values())  # oldest first
    for m in data["AddMsgList"]:
        assert m["NewMsgId"] == int(m["MsgId"]) and isinstance(m["FileSize"], str)
        assert "RecommendInfo" in m and "AppInfo" in m
    me = alice.creds.user["UserName"]
    text = by_id[sent["text"]]
    assert (text["MsgType"], text["Content"], text["FromUserName"], text["ToUserName"]) == (
        1,
        "a &lt; b<br/>line2",
        carol,
        me,
    )
    image = by_id[sent["image"]]
    assert (
        image["MsgType"] == 3
        and image["Content"].startswith("&lt;?xml")
        and image["ImgStatus"] == 2
    )
    assert by_id[sent["voice"]]["MsgType"] == 34 and by_id[sent["voice"]]["VoiceLength"] == 2000
    assert by_id[sent["video"]]["MsgType"] == 43 and by_id[sent["video"]]["PlayLength"] == 7
    assert by_id[sent["emoji"]]["MsgType"] == 47
    card = by_id[sent["card"]]
    assert (
        card["MsgType"] == 42
        and card["RecommendInfo"]["NickName"] == "腾讯新闻"
        and card["RecommendInfo"]["VerifyFlag"] == 24
    )
    link = by_id[sent["link"]]
    assert (link["MsgType"], link["AppMsgType"], link["FileName"], link["Url"]) == (
        49,
        5,
        "T",
        "https://e.com/x",
    )
    f = by_id[sent["file"]]
    assert (f["MsgType"], f["AppMsgType"], f["FileName"], f["FileSize"]) == (49, 6, "a.txt", "5")
    assert f["MediaId"].startswith("@crypt_") and f["EncryFileName"] == "a%2Etxt"
    loc = by_id[sent["location"]]
    assert (
        loc["MsgType"] == 1
        and loc["SubMsgType"] == 48
        and loc["Url"]
        and "<location" in loc["OriContent"]
    )
    g = by_id[sent["group"]]
    assert g["FromUserName"] == group and g["ToUserName"] == me
    assert re.fullmatch(r"(@[0-9a-z]*?):<br/>(.*)", g["Content"]).groups() == (carol, "in group")
    notice = by_id[sent["notice"]]
    assert (notice["MsgType"], notice["FromUserName"], notice["Content"]) == (
        10000,
        group,
        "notice",
    )
    phone = by_id[sent["phone"]]
    assert (phone["FromUserName"], phone["ToUserName"]) == (me, carol)
    revoke = by_id[sent["revoke"]]
    assert revoke["MsgType"] == 10002 and revoke["Status"] == 4
    assert f"&lt;msgid&gt;{sent['text']}&lt;/msgid&gt;" in revoke["Content"]


async def test_friend_request_arrives_from_fmessage(alice):
    r = await alice.control(
        "POST", f"/sim/accounts/{ALICE}/friend_requests",
        {"from": {"wxid": "wxid_zoe", "nickname": "Zoe", "sex": 2}, "greeting": "我是Zoe"},
    )  # fmt: skip
    assert r.status_code == 200
    (msg,) = (await alice.sync())["AddMsgList"]
    assert msg["MsgType"] == 37 and msg["FromUserName"] == "fmessage"
    info = msg["RecommendInfo"]
    assert info["NickName"] == "Zoe" and info["Content"] == "我是Zoe" and info["OpCode"] == 2
    assert info["Ticket"].startswith("v2_") and info["UserName"].startswith("@")
    assert (
        "fromusername=&quot;wxid_zoe&quot;" in msg["Content"]
        or 'fromusername="wxid_zoe"' in msg["Content"]
    )


async def test_sync_keys_are_kept_apart_and_old_keys_redeliver(alice):
    await post(alice, {"from": "wxid_carol0000000001", "content": "one"})
    init_key = alice.creds.sync_key
    first = await alice.sync()
    assert first["AddMsgCount"] == 1
    assert [kv["Key"] for kv in first["SyncKey"]["List"]] == [1, 2, 3, 11, 201, 1000, 1001]
    assert first["SyncKey"] != first["SyncCheckKey"]
    # a SyncCheckKey sent to webwxsync (itchat 1.3.10 does) names the same position: nothing
    # new, nothing lost (the real service's two lists are usually identical, 6.2)
    mixed = await alice.sync(first["SyncCheckKey"])
    assert (mixed["BaseResponse"]["Ret"], mixed["AddMsgCount"]) == (0, 0)
    # a forged key is refused
    forged = {"Count": 1, "List": [{"Key": 1, "Val": 42}]}
    assert (await alice.sync(forged))["BaseResponse"]["Ret"] != 0
    # the old key re-delivers the same message (duplicates, like the real service)
    again = await alice.sync(init_key)
    assert [m["MsgId"] for m in again["AddMsgList"]] == [m["MsgId"] for m in first["AddMsgList"]]
    # synccheck with the old key fires at once; with the new one nothing is pending
    assert await alice.synccheck(init_key) == ("0", "2")


async def test_continue_flag_when_more_than_a_page():
    async with open_sim(config=SimConfig(sync_page=3)) as sim, httpx.AsyncClient() as http:
        web = WebClient(http, sim.base_url)
        await web.qr_login(ALICE)
        await web.init()
        for i in range(5):
            await post(web, {"from": "wxid_carol0000000001", "content": str(i)})
        first = await web.sync()
        assert first["AddMsgCount"] == 3 and first["ContinueFlag"] == 1
        second = await web.sync()
        assert [m["Content"] for m in second["AddMsgList"]] == ["3", "4"] and second[
            "ContinueFlag"
        ] == 0


async def test_send_text_is_recorded_echoed_and_idempotent(alice, sim):
    contacts = names_by_nick(await alice.all_contacts())
    answer = await alice.send_text(
        contacts["Carol"], "hello <carol>", client_msg_id="17000000000001234"
    )
    assert answer["BaseResponse"]["Ret"] == 0 and re.fullmatch(r"\d{19}", answer["MsgID"])
    assert answer["LocalID"] == "17000000000001234"
    again = await alice.send_text(
        contacts["Carol"], "hello <carol>", client_msg_id="17000000000001234"
    )
    assert again["MsgID"] == answer["MsgID"]
    sent = (await alice.control("GET", f"/sim/accounts/{ALICE}/sent")).json()
    assert len(sent) == 1
    assert {
        "to": "wxid_carol0000000001",
        "type": "text",
        "content": "hello <carol>",
        "msg_id": answer["MsgID"],
    }.items() <= sent[0].items()
    data = await alice.sync()
    (echo,) = data["AddMsgList"]
    me = alice.creds.user["UserName"]
    assert (echo["FromUserName"], echo["ToUserName"], echo["Content"]) == (
        me,
        contacts["Carol"],
        "hello &lt;carol&gt;",
    )
    to_filehelper = await alice.send_text("filehelper", "note")
    assert to_filehelper["BaseResponse"]["Ret"] == 0
    unknown = await alice.send_text("@" + "1" * 64, "x")
    assert unknown["BaseResponse"]["Ret"] != 0
    gone = await alice.send_text("@@" + "1" * 64, "x")
    assert gone["BaseResponse"]["Ret"] == 1201


async def test_a_message_between_two_simulated_accounts(sim, http):
    alice = WebClient(http, sim.base_url)
    await alice.qr_login(ALICE)
    await alice.init()
    async with httpx.AsyncClient(timeout=60) as http2:
        bob = WebClient(http2, sim.base_url)
        await bob.qr_login(BOB)
        await bob.init()
        contacts = names_by_nick(await alice.all_contacts())
        await alice.send_text(contacts["Bob"], "hi bob")
        assert await bob.synccheck() == ("0", "2")
        (msg,) = (await bob.sync())["AddMsgList"]
        bob_contacts = {c["UserName"]: c["NickName"] for c in await bob.all_contacts()}
        assert msg["Content"] == "hi bob" and bob_contacts[msg["FromUserName"]] == "Alice"


async def test_forced_logout_ends_the_session(alice, sim):
    r = await alice.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": 1100})
    assert r.json() == {"ended": 1}
    assert await alice.synccheck() == ("1100", "0")
    assert (await alice.sync())["BaseResponse"]["Ret"] == 1100
    assert (await alice.init())["BaseResponse"]["Ret"] == 1100
    assert (await alice.control("GET", "/sim/accounts")).json()[0]["logged_in"] is False


async def test_forced_logout_wakes_a_waiting_synccheck(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = WebClient(http, sim.base_url)
        await web.qr_login(ALICE)
        await web.init()
        seen = {}

        async def check():
            seen["answer"] = await web.synccheck()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(check)
            await trio.sleep(2)
            await web.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
        assert seen["answer"] == ("1101", "0")


async def test_webwxlogout_then_1101(alice, http, sim):
    c = alice.creds
    for t in (0, 1):
        await http.post(
            f"{sim.base_url}{CGI}webwxlogout?redirect=1&type={t}&skey={c.skey}",
            data={"sid": c.sid, "uin": c.uin},
        )
    assert await alice.synccheck() == ("1101", "0")


async def test_session_identity_is_checked(alice):
    good = alice.creds.skey
    alice.creds.skey = "@crypt_00000000_" + "0" * 32
    assert (await alice.sync())["BaseResponse"]["Ret"] == 1101
    alice.creds.skey = good
    pt = alice.creds.pass_ticket
    alice.creds.pass_ticket = "AAAA"
    assert (await alice.init())["BaseResponse"]["Ret"] == 1101
    alice.creds.pass_ticket = pt
    assert (await alice.init())["BaseResponse"]["Ret"] == 0


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
    data = await alice.sync()
    assert "Caroline" in [c["NickName"] for c in data["ModContactList"]]


async def test_auto_replying_contact_answers_after_its_delay(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = WebClient(http, sim.base_url)
        await web.qr_login(ALICE)
        await web.init()
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


async def test_emoji_become_spans_and_sync_sets_its_cookies(alice, http, sim):
    await post(alice, {"from": "wxid_carol0000000001", "content": "好😄<b>"})
    r = await http.post(
        f"{sim.base_url}{CGI}webwxsync?sid={alice.creds.sid}&skey={alice.creds.skey}",
        json={"BaseRequest": alice.base_request(), "SyncKey": alice.creds.sync_key},
    )
    (msg,) = r.json()["AddMsgList"]
    assert msg["Content"] == '好<span class="emoji emoji1f604"></span>&lt;b&gt;'
    cookies = r.headers.get_list("set-cookie")
    assert any(re.match(r"wxloadtime=\d+_expired;", c) for c in cookies)
    key1000 = next(kv["Val"] for kv in r.json()["SyncKey"]["List"] if kv["Key"] == 1000)
    assert any(c.startswith(f"wxpluginkey={key1000};") for c in cookies)


async def test_init_lists_official_account_articles(web):
    await web.qr_login(ALICE)
    data = await web.init()
    assert data["MPSubscribeMsgCount"] == 1 == len(data["MPSubscribeMsgList"])
    push = data["MPSubscribeMsgList"][0]
    assert push["NickName"] == "腾讯新闻" and push["MPArticleCount"] == 1
    assert {"Title", "Digest", "Cover", "Url"} <= set(push["MPArticleList"][0])


async def test_leniency_the_clients_need(alice, http, sim):
    """12.3: untyped or ASCII-escaped JSON, Uin as a string, odd DeviceIDs, skey only in the
    query (M's webwxsync), pass_ticket single/double-encoded, missing or `undefined`."""
    import json
    from urllib.parse import quote, unquote

    c = alice.creds
    url = f"{sim.base_url}{CGI}webwxsync?sid={c.sid}&skey={quote(c.skey)}"
    body = {"BaseRequest": {"Uin": c.uin, "Sid": c.sid}, "SyncKey": c.sync_key}
    raw = json.dumps(body, ensure_ascii=True).encode()
    for pt in ("", "&pass_ticket=undefined", f"&pass_ticket={c.pass_ticket}",
               f"&pass_ticket={quote(c.pass_ticket, safe='')}", f"&pass_ticket={unquote(c.pass_ticket)}"):  # fmt: skip
        r = await http.post(url + pt, content=raw, headers={"ContentType": "application/json"})
        assert r.json()["BaseResponse"]["Ret"] == 0, pt
    odd = {
        "BaseRequest": {"Uin": str(c.uin), "Sid": c.sid, "Skey": c.skey, "DeviceID": c.pass_ticket}
    }
    r = await http.post(
        f"{sim.base_url}{CGI}webwxinit?r=1", content=json.dumps(odd, ensure_ascii=False).encode()
    )
    assert r.json()["BaseResponse"]["Ret"] == 0
    r = await http.post(f"{sim.base_url}{CGI}webwxinit?r=1", content=b"not json")
    assert r.json()["BaseResponse"]["Ret"] == 1


async def test_join_notices_in_each_accounts_words(sim, http):
    alice = WebClient(http, sim.base_url)
    await alice.qr_login(ALICE)
    await alice.init()
    async with httpx.AsyncClient(timeout=60) as http2:
        bob = WebClient(http2, sim.base_url)
        await bob.qr_login(BOB)
        await bob.init()
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


async def test_transfer_red_packet_and_microvideo(alice):
    carol = "wxid_carol0000000001"
    ids = [
        await post(alice, {"from": carol, "type": "transfer", "content": "8.88"}),
        await post(alice, {"from": carol, "type": "red_packet"}),
        await post(alice, {"from": carol, "type": "microvideo", "seconds": 5}),
    ]
    msgs = {m["MsgId"]: m for m in (await alice.sync())["AddMsgList"]}
    transfer, packet, micro = (msgs[i] for i in ids)
    assert (transfer["MsgType"], transfer["AppMsgType"]) == (49, 2000)
    assert (
        "Carol向你转账8.88元" in transfer["Content"] and "&lt;wcpayinfo&gt;" in transfer["Content"]
    )
    assert (packet["MsgType"], packet["Content"]) == (10000, "收到红包，请在手机上查看")
    assert (micro["MsgType"], micro["PlayLength"]) == (62, 5)


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
    alice = WebClient(http, sim.base_url)
    await alice.qr_login(ALICE)
    await alice.init()
    async with httpx.AsyncClient(timeout=60) as http2:
        bob = WebClient(http2, sim.base_url)
        await bob.qr_login(BOB)
        await bob.init()
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
