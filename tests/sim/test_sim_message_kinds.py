"""Every message kind the reference lists, as webwxsync delivers it (web-protocol.md 7)."""

from __future__ import annotations

import re

from sim_webclient import ALICE, CGI, inject, names_by_nick


async def test_sync_delivers_each_message_kind(alice, sim):
    contacts = names_by_nick(await alice.all_contacts())
    carol, group = contacts["Carol"], contacts["测试群"]
    carol_id = "wxid_carol0000000001"
    sent = {
        "text": await inject(alice, {"from": carol_id, "content": "a < b\nline2"}),
        "image": await inject(alice, {"from": carol_id, "type": "image"}),
        "voice": await inject(alice, {"from": carol_id, "type": "voice", "seconds": 2}),
        "video": await inject(alice, {"from": carol_id, "type": "video", "seconds": 7}),
        "emoji": await inject(alice, {"from": carol_id, "type": "emoji"}),
        "card": await inject(alice, {"from": carol_id, "type": "card", "card": "gh_0123456789ab"}),
        "link": await inject(
            alice, {"from": carol_id, "type": "link", "title": "T", "url": "https://e.com/x"}
        ),
        "file": await inject(
            alice, {"from": carol_id, "type": "file", "file_name": "a.txt", "content": "hello"}
        ),
        "location": await inject(
            alice, {"from": carol_id, "type": "location", "content": "Somewhere"}
        ),
        "group": await inject(
            alice, {"from": carol_id, "group": "1234567890@chatroom", "content": "in group"}
        ),
        "notice": await inject(
            alice,
            {
                "from": carol_id,
                "group": "1234567890@chatroom",
                "type": "system",
                "content": "notice",
            },
        ),
        "phone": await inject(alice, {"from": ALICE, "to": carol_id, "content": "from my phone"}),
    }
    sent["revoke"] = await inject(
        alice, {"from": carol_id, "type": "revoke", "msg_id": sent["text"]}
    )
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


async def test_emoji_become_spans_and_sync_sets_its_cookies(alice, http, sim):
    await inject(alice, {"from": "wxid_carol0000000001", "content": "好😄<b>"})
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


async def test_transfer_red_packet_and_microvideo(alice):
    carol = "wxid_carol0000000001"
    ids = [
        await inject(alice, {"from": carol, "type": "transfer", "content": "8.88"}),
        await inject(alice, {"from": carol, "type": "red_packet"}),
        await inject(alice, {"from": carol, "type": "microvideo", "seconds": 5}),
    ]
    msgs = {m["MsgId"]: m for m in (await alice.sync())["AddMsgList"]}
    transfer, packet, micro = (msgs[i] for i in ids)
    assert (transfer["MsgType"], transfer["AppMsgType"]) == (49, 2000)
    assert (
        "Carol向你转账8.88元" in transfer["Content"] and "&lt;wcpayinfo&gt;" in transfer["Content"]
    )
    assert (packet["MsgType"], packet["Content"]) == (10000, "收到红包，请在手机上查看")
    assert (micro["MsgType"], micro["PlayLength"]) == (62, 5)
