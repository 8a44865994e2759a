"""Session calls: init, status notify, contacts, synccheck/webwxsync, sending, forced logout."""

from __future__ import annotations

import re

import httpx
import trio
from sim_webclient import ALICE, BOB, CGI, WebClient, inject, names_by_nick

from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig


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
        web = await WebClient(http, sim.base_url).log_in(ALICE)
        start = trio.current_time()
        assert await web.synccheck() == ("0", "0")
        assert 24 <= trio.current_time() - start <= 26


async def test_synccheck_wakes_when_a_message_arrives(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = await WebClient(http, sim.base_url).log_in(ALICE)
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


async def test_sync_keys_are_kept_apart_and_old_keys_redeliver(alice):
    await inject(alice, {"from": "wxid_carol0000000001", "content": "one"})
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
        web = await WebClient(http, sim.base_url).log_in(ALICE)
        for i in range(5):
            await inject(web, {"from": "wxid_carol0000000001", "content": str(i)})
        first = await web.sync()
        assert first["AddMsgCount"] == 3 and first["ContinueFlag"] == 1
        second = await web.sync()
        assert [m["Content"] for m in second["AddMsgList"]] == ["3", "4"] and second[
            "ContinueFlag"
        ] == 0


async def test_send_text_is_recorded_echoed_and_idempotent(alice, sim):
    sim.world.config.echo_sent = True
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
    alice = await WebClient(http, sim.base_url).log_in(ALICE)
    async with httpx.AsyncClient(timeout=60) as http2:
        bob = await WebClient(http2, sim.base_url).log_in(BOB)
        contacts = names_by_nick(await alice.all_contacts())
        await alice.send_text(contacts["Bob"], "hi bob")
        assert await bob.synccheck() == ("0", "2")
        (msg,) = (await bob.sync())["AddMsgList"]
        bob_contacts = {c["UserName"]: c["NickName"] for c in await bob.all_contacts()}
        assert msg["Content"] == "hi bob" and bob_contacts[msg["FromUserName"]] == "Alice"


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


async def test_getcontact_and_logout_by_get_or_post(alice, http, sim):
    """12.3: both GET and POST for webwxgetcontact and webwxlogout (jslogin: test_sim_login)."""
    c = alice.creds
    url = f"{sim.base_url}{CGI}webwxgetcontact?r=1&seq=0&skey={c.skey}"
    by_get, by_post = (await http.get(url)).json(), (await http.post(url)).json()
    assert by_get["BaseResponse"]["Ret"] == by_post["BaseResponse"]["Ret"] == 0
    nicks = sorted(m["NickName"] for m in by_get["MemberList"])
    assert nicks == sorted(m["NickName"] for m in by_post["MemberList"]) and "Carol" in nicks
    r = await http.get(
        f"{sim.base_url}{CGI}webwxlogout",
        params={"redirect": 1, "type": 1, "skey": c.skey, "sid": c.sid, "uin": c.uin},
    )  # itchat: GET type 1
    assert r.status_code in (301, 302)
    assert await alice.synccheck() == ("1101", "0")


async def test_web_sent_text_is_not_echoed_by_default(alice, sim):
    """web-protocol.md 12.2: whether the service echoes a web-sent message to the same
    session is not established, so by default it does not."""
    assert sim.world.config.echo_sent is False
    contacts = names_by_nick(await alice.all_contacts())
    answer = await alice.send_text(contacts["Carol"], "no echo please")
    assert answer["BaseResponse"]["Ret"] == 0
    data = await alice.sync()
    assert data["AddMsgList"] == []
