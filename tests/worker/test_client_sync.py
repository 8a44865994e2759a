"""Receiving through the sync loop: every message kind and contact change → models/events."""

from __future__ import annotations

import base64

import pytest

from openwx_worker.testing import is_event, running_client, sim_post, wait_item
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"
DAVE = "wxid_dave00000000002"
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


async def test_friend_text_message(tmp_path, clock):
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
        with open(msg.media_path, "rb") as f:
            assert f.read() == data
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
