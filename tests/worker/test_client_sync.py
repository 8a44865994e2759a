"""Receiving through the sync loop: every message kind and contact change → models/events."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl

import msgspec
import pytest
import trio

from openwx_worker.testing import is_event, running_client, sim_post, wait_item
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"
DAVE = "wxid_dave00000000002"
ERIN = "wxid_erin00000000003"
GROUP = "1234567890@chatroom"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


def _message(kind=None):
    def pred(item):
        return getattr(item, "post_type", "") in ("receive_message", "send_message") and (
            kind is None or item.format == kind)
    return pred


async def test_friend_text_message(tmp_path, clock, caplog):
    caplog.set_level("INFO", logger="openwx_worker.client_sync")
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as worker:
        start = worker.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "content": "hi <Alice> & you\nline 2"})
        msg = await wait_item(worker, _message("text"), after=start)
        assert msg.post_type == "receive_message"
        assert msg.type == "friend_message" and msg.msg_class == "recv"
        assert msg.content == "hi <Alice> & you\nline 2"
        assert msg.sender == "Carol" and msg.sender_id == worker.client.contacts.first_friend(
            name="Carol").id
        assert msg.receiver_id == worker.client.user.id
        assert msg.sender_category == "好友"
        shown = [r.getMessage() for r in caplog.records if "[好友消息]" in r.getMessage()]
        assert len(shown) == 1  # one line per message, with its time (like ShowMsg)
        assert re.fullmatch(r"\d\d:\d\d:\d\d \[好友消息\] Carol -> Alice : "
                            r"hi <Alice> & you\\nline 2", shown[0]), shown


async def test_group_message_has_real_sender(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as worker:
        start = worker.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "group": GROUP, "content": "hello group"})
        msg = await wait_item(worker, _message("text"), after=start)
        assert msg.type == "group_message"
        assert msg.group == "测试群" and msg.group_id.startswith("@@")
        assert msg.content == "hello group"
        assert msg.sender == "卡罗尔"  # the group card name wins
        member = worker.client.contacts.member(msg.group_id, msg.sender_id)
        assert member is not None and member.markname == "Carol"


async def test_image_downloaded_into_media_dir(tmp_path, clock):
    data = b"\xff\xd8\xff\xe0" + b"x" * 2000
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as worker:
        start = worker.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "type": "image",
                        "data_b64": base64.b64encode(data).decode()})
        msg = await wait_item(worker, _message("media"), after=start)
        assert msg.media_type == "image" and msg.media_code == 3
        assert msg.media_id == f"{msg.id}:3"
        assert msg.media_size == len(data)
        assert (msg.media_mime, msg.media_ext) == ("image/jpeg", "jpg")
        assert await trio.Path(msg.media_path).read_bytes() == data
        assert msg.content == f"[图片]({msg.media_path})"


async def test_friend_request_event_carries_ticket(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as worker:
        start = worker.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/friend_requests",
                       {"from": {"wxid": "wxid_frank0000000009", "nickname": "Frank"},
                        "greeting": "I am Frank"})
        ev = await wait_item(worker, is_event("friend_request"), after=start)
        user_id, name, text, ticket = ev.params
        assert name == "Frank" and text == "I am Frank"
        assert user_id.startswith("@") and ticket


async def _sim(sim, method, path, body=None):
    import httpx

    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.request(method, path, json=body)
        r.raise_for_status()
        return r.json()


async def test_contact_changes_become_events(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        book = h.client.contacts
        start = h.events.last_event_id
        await _sim(sim, "POST", f"/sim/accounts/{ALICE}/friends",
                   {"wxid": "wxid_gina0000000007", "nickname": "Gina"})
        ev = await wait_item(h, is_event("new_friend"), after=start)
        assert ev.params[0]["name"] == "Gina" and book.first_friend(name="Gina") is not None

        start = h.events.last_event_id
        await _sim(sim, "POST", f"/sim/people/{DAVE}/rename", {"nickname": "David"})
        ev = await wait_item(h, is_event("friend_property_change"), after=start)
        friend, prop, old, new = ev.params
        assert (prop, old, new) == ("name", "Dave 大卫", "David")

        start = h.events.last_event_id
        await _sim(sim, "DELETE", f"/sim/accounts/{ALICE}/friends/{DAVE}")
        ev = await wait_item(h, is_event("lose_friend"), after=start)
        assert ev.params[0]["name"] == "David"


async def test_group_member_changes_become_events(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        group = h.client.contacts.first_group(name="Family")
        start = h.events.last_event_id
        await _sim(sim, "POST", "/sim/groups/2345678901@chatroom/members",
                   {"wxids": ["wxid_erin00000000003"], "inviter": CAROL})
        ev = await wait_item(h, is_event("new_group_member"), after=start)
        member, grp = ev.params
        assert member["markname"] == "Erin" and grp["id"] == group.id

        start = h.events.last_event_id
        await _sim(sim, "POST", f"/sim/groups/2345678901@chatroom/members/{DAVE}/remove", {})
        ev = await wait_item(h, is_event("lose_group_member"), after=start)
        assert ev.params[0]["markname"] == "Dave 大卫"

        start = h.events.last_event_id
        await _sim(sim, "POST", "/sim/groups/2345678901@chatroom/rename",
                   {"topic": "家人", "by": CAROL})
        ev = await wait_item(h, is_event("group_property_change"), after=start)
        assert ev.params[1:] == ["name", "Family", "家人"]


JPEG = b"\xff\xd8\xff\xe0" + b"j" * 100
KINDS = [
    # (control API body extras, expected format, check)
    ({"type": "voice", "data_b64": base64.b64encode(b"ID3mp3data").decode(), "seconds": 2},
     "media", lambda m: m.media_type == "voice" and m.media_code == 34 and m.media_size == 10),
    ({"type": "video", "data_b64": base64.b64encode(b"\0\0\0 ftypmp4").decode()},
     "media", lambda m: m.media_type == "video" and m.media_code == 43),
    ({"type": "emoji", "data_b64": base64.b64encode(b"GIF89a....").decode()},
     "media", lambda m: m.media_type == "emoticon" and m.media_ext == "gif"),
    ({"type": "file", "data_b64": base64.b64encode(b"%PDF-1.4 x").decode(),
      "file_name": "report.pdf"},
     "media", lambda m: m.media_type == "file" and m.media_name == "report.pdf"
     and m.media_path.endswith("report.pdf") and m.media_id.endswith(":6")),
    ({"type": "link", "title": "A title", "url": "https://example.com/a"},
     "app", lambda m: m.app_title == "A title" and m.app_url == "https://example.com/a"
     and m.content.startswith("[应用分享]标题：A title")),
    ({"type": "card", "card": DAVE},
     "card", lambda m: m.card_name == "Dave 大卫" and m.content.startswith("[名片]昵称：Dave 大卫")),
    ({"type": "system", "content": "如果陌生人主动添加你为朋友，请谨慎核实对方身份。"},
     "text", lambda m: m.content.startswith("如果陌生人")),
    ({"type": "location", "content": "深圳湾公园"},
     "text", lambda m: "深圳湾公园" in m.content),
    ({"type": "microvideo", "data_b64": base64.b64encode(b"\0\0\0 ftypmp4").decode()},
     "media", lambda m: m.media_type == "microvideo" and m.media_code == 62
     and m.content.startswith("[小视频](")),
    ({"type": "transfer", "content": "0.10"},
     "payment", lambda m: m.content.startswith("[转账](") and "0.10" in m.content),
    ({"type": "red_packet"},
     "text", lambda m: "红包" in m.content),
]


@pytest.mark.parametrize(("body", "fmt", "check"), KINDS,
                         ids=[k[0]["type"] for k in KINDS])
async def test_message_kinds(tmp_path, clock, body, fmt, check):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages", {"from": CAROL, **body})
        msg = await wait_item(h, _message(), after=start)
        assert msg.format == fmt, msg
        assert msg.type == "friend_message" and msg.sender == "Carol"
        assert check(msg), msg


async def test_revoke_message(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        sent = await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                              {"from": CAROL, "content": "oops"})
        await wait_item(h, _message("text"), after=start)
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "type": "revoke", "msg_id": sent["msg_id"]})
        msg = await wait_item(h, _message("revoke"), after=start)
        assert msg.revoke_id == sent["msg_id"] and msg.content.startswith("[撤回消息](")


async def test_message_sent_from_the_phone_is_class_send(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": ALICE, "to": CAROL, "content": "from my phone"})
        msg = await wait_item(h, _message("text"), after=start)
        assert msg.post_type == "send_message" and msg.msg_class == "send"
        assert msg.source == "outer" and msg.info == "来自其他设备"
        assert msg.receiver == "Carol" and msg.sender_id == h.client.user.id


async def test_group_notice_and_unknown_member_fetched(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        # A stranger joins the group and speaks at once: the client fetches the group again.
        await _sim(sim, "POST", f"/sim/accounts/{ALICE}/friend_requests",
                   {"from": {"wxid": "wxid_hank0000000008", "nickname": "Hank"}})
        await _sim(sim, "POST", f"/sim/groups/{GROUP}/members",
                   {"wxids": ["wxid_hank0000000008"], "inviter": CAROL})
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": "wxid_hank0000000008", "group": GROUP, "content": "hi all"})
        notice = await wait_item(h, lambda i: getattr(i, "type", "") == "group_notice",
                                 after=start)
        assert "Hank" in notice.content and notice.group == "测试群"
        msg = await wait_item(h, _text_is("hi all"), after=start)
        assert msg.sender == "Hank"


def _text_is(content):
    return lambda item: getattr(item, "content", None) == content


async def test_new_and_lost_group(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        group = await h.client.create_group(
            [h.client.contacts.first_friend(name="Carol").id,
             h.client.contacts.first_friend(name="Dave 大卫").id], "Party")
        ev = await wait_item(h, is_event("new_group"), after=start)
        assert ev.params[0]["id"] == group.id and ev.params[0]["name"] == "Party"

        start = h.events.last_event_id
        await _sim(sim, "POST", f"/sim/groups/2345678901@chatroom/members/{ALICE}/remove",
                   {"by": CAROL})
        ev = await wait_item(h, lambda i: getattr(i, "event", "") in (
            "lose_group", "lose_group_member"), after=start)
        assert ev.event == "lose_group" and ev.params[0]["name"] == "Family"



async def test_media_not_downloaded_when_download_media_is_off(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(
            sim, tmp_path, download_media=False) as h:
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "type": "image", "data_b64": base64.b64encode(JPEG).decode()})
        msg = await wait_item(h, _message("media"), after=start)
        assert msg.content == "[图片]" and msg.media_path is msgspec.UNSET


async def _sim_requests(sim, path):
    return await _sim(sim, "GET", f"/sim/requests?path={path}&limit=2000")


async def test_synccheck_sends_the_check_key_webwxsync_the_sync_key(tmp_path, clock):
    """web-protocol.md 6.2: after a webwxsync the two keys differ; synccheck must be
    asked with SyncCheckKey (the sync key would make it answer "new messages" forever)."""
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages", {"from": CAROL, "content": "k"})
        await wait_item(h, _text_is("k"), after=start)
        session = h.client.session
        assert session.check_key.as_query() != session.sync_key.as_query()
        mark = len(await _sim_requests(sim, "synccheck"))
        with trio.fail_after(120):
            while len(checks := await _sim_requests(sim, "synccheck")) <= mark:  # noqa: ASYNC110
                await trio.sleep(1)  # the simulator's request log is the only signal
        sent = dict(parse_qsl(checks[-1]["query"]))
        assert sent["synckey"] == session.check_key.as_query()


async def test_phone_entering_an_unknown_chat_fetches_it(tmp_path, clock):
    """MsgType 51 (the phone opened a chat) naming a group the book lacks: fetched, new_group."""
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        book = h.client.contacts
        family = book.first_group(name="Family")
        book.remove_group(family.id)
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/status_notify",
                       {"code": 2, "chat": "2345678901@chatroom"})
        ev = await wait_item(h, is_event("new_group"), after=start)
        assert ev.params[0]["id"] == family.id and ev.params[0]["name"] == "Family"
        assert len(book.group(family.id).member) == 3


async def test_update_events_after_login_when_asked_for(tmp_path, clock):
    wanted = ("update_user", "update_friend", "update_group", "login")
    async with open_sim(auto_confirm=True) as sim, running_client(
            sim, tmp_path, post_event_list=wanted) as h:
        await wait_item(h, is_event("update_group"))
        items = h.events.read_after(0, 10_000)
        names = [getattr(i, "event", None) for i in items]
        assert names.index("update_user") > names.index("login")
        book = h.client.contacts
        by_name = {getattr(i, "event", None): i for i in items}
        assert by_name["update_user"].params[0]["id"] == book.user.id
        assert [f["id"] for f in by_name["update_friend"].params] == [f.id for f in book.friends]
        assert [g["id"] for g in by_name["update_group"].params] == [g.id for g in book.groups]


async def test_member_rename_is_a_member_property_change(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        start = h.events.last_event_id
        await _sim(sim, "POST", f"/sim/people/{ERIN}/rename", {"nickname": "Erin 二"})
        ev = await wait_item(h, is_event("group_member_property_change"), after=start)
        member, prop, old, new = ev.params
        assert (old, new) == ("Erin", "Erin 二") and prop in ("name", "markname")


async def test_failed_media_download_still_reports_the_message(tmp_path, clock):
    """Reference H.7: Mojo::Weixin dropped a message whose media it could not fetch."""
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        await sim_post(sim, "/sim/faults", {"endpoint": "webwxgetmsgimg", "kind": "http_500",
                                            "count": 1})
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "type": "image", "data_b64": base64.b64encode(JPEG).decode()})
        msg = await wait_item(h, _message("media"), after=start)
        assert msg.media_type == "image" and msg.content == "[图片]"
        assert msg.media_path is msgspec.UNSET and msg.sender == "Carol"
