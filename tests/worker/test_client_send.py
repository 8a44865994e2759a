"""Sending through the paced queue, and the operations, against the simulator."""

from __future__ import annotations

import httpx
import pytest
import trio

from openwx_worker.errors import NotFound
from openwx_worker.testing import running_client

ALICE = "wxid_alice0000000001"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


async def _sent(sim):
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        return (await http.get(f"/sim/accounts/{ALICE}/sent")).json()


def _reports(h):
    return [i for i in h.events.read_after(0, 10_000) if getattr(i, "post_type", "") ==
            "send_message"]


async def test_send_text_returns_msg_id_and_reports_once(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        result = await h.client.send_text(carol.id, "hello Carol\nbye")
        assert result.msg_id.isdigit() and result.id == f"{result.msg_id}:{carol.id}"
        sent = await _sent(sim)
        assert [(s["content"], s["msg_id"]) for s in sent][-1:] == [
            ("hello Carol\nbye", result.msg_id)]
        # The simulator echoes web sends in the next sync: still one report only.
        await trio.sleep(5)
        reports = [r for r in _reports(h) if r.id.startswith(result.msg_id)]
        assert len(reports) == 1
        r = reports[0]
        assert r.msg_class == "send" and r.source == "local" and r.from_ == "api"
        assert r.receiver == "Carol" and r.content == "hello Carol\nbye" and r.code == ""


async def test_send_to_unknown_chat_is_not_found(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        with pytest.raises(NotFound):
            await h.client.send_text("@nobody", "x")


async def test_sends_are_paced(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(
            sim, tmp_path, send_interval=3.0) as h:
        helper = "filehelper"
        times = []

        async def send(i):
            await h.client.send_text(helper, f"m{i}")
            times.append(trio.current_time())

        async with trio.open_nursery() as n:
            for i in range(3):
                n.start_soon(send, i)
        times.sort()
        assert times[1] - times[0] >= 3 and times[2] - times[1] >= 3


async def _requests(sim, path):
    """The protocol requests the simulator saw on one endpoint."""
    r = await _get(sim, f"/sim/requests?path={path}&limit=2000")
    return r.json()


async def _get(sim, path):
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.get(path)
        r.raise_for_status()
        return r


@pytest.mark.parametrize(
    ("name", "mime", "size", "code"),
    [("photo.jpg", "image/jpeg", 1_300_000, 3),  # three 512 KiB chunks
     ("anim.gif", "image/gif", 2000, 47),
     ("clip.mp4", "video/mp4", 600_000, 43),
     ("notes.pdf", "application/octet-stream", 1000, 6)],
)
async def test_send_media_uploads_in_chunks(tmp_path, clock, name, mime, size, code):
    from openwx_worker.media import MediaFile
    from wechat_sim.testing import open_sim

    data = (b"\xff\xd8\xff\xe0" if code == 3 else b"GIF89a" if code == 47 else b"\0") + bytes(
        i % 251 for i in range(size))
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        media = MediaFile(data=data, name=name, mime=mime, ext=name.rsplit(".", 1)[1],
                          path=f"/x/{name}")
        result = await h.client.send_media(carol.id, media)
        assert result.media.media_code == code and result.media.api_id.endswith(f":{code}")
        got = await _get(sim, f"/sim/accounts/{ALICE}/sent/{result.msg_id}/media")
        assert got.content == data
        chunks = -(-len(data) // (512 * 1024))
        assert len(await _requests(sim, "webwxuploadmedia")) == chunks
        report = result.report
        assert report.format == "media" and report.media_code == code
        assert report.content.endswith(f"(/x/{name})")
        # The uploaded media can be sent again by its id, without a new upload.
        again = await h.client.send_media(h.client.contacts.first_friend(name="Erin").id
                                          if h.client.contacts.first_friend(name="Erin")
                                          else "filehelper", result.media)
        assert again.msg_id != result.msg_id


async def test_revoke_own_message(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        result = await h.client.send_text(carol.id, "to be revoked")
        await h.client.revoke(result.id, "")
        sent = [s for s in await _sent(sim) if s["msg_id"] == result.msg_id]
        assert sent and sent[0].get("revoked") is True


async def test_group_operations(tmp_path, clock):
    from openwx_worker.testing import is_event, wait_item
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        book = h.client.contacts
        carol, dave = book.first_friend(name="Carol"), book.first_friend(name="Dave 大卫")
        start = h.events.last_event_id
        group = await h.client.create_group([carol.id, dave.id], "新群")
        assert group.id.startswith("@@") and book.group(group.id) is not None
        assert {m.markname for m in group.member} >= {"Carol", "Dave 大卫"}

        erin_group = book.first_group(name="测试群")
        erin = [m for m in erin_group.member if m.markname == "Erin"][0]
        await h.client.kick_members(erin_group.id, [erin.id])
        ev = await wait_item(h, is_event("lose_group_member"), after=start)
        assert ev.params[0]["id"] == erin.id

        await h.client.rename_group(group.id, "改名了")
        ev = await wait_item(h, is_event("group_property_change"), after=start)
        assert ev.params[1:] == ["name", "新群", "改名了"]

        bob = book.first_friend(markname="Bobby")
        await h.client.invite_members(group.id, [bob.id])
        ev = await wait_item(h, is_event("new_group_member"), after=start)
        assert ev.params[0]["id"] == bob.id
        calls = (await _get(sim, "/sim/requests?path=webwxupdatechatroom")).json()
        assert "fun=addmember" in calls[-1]["query"]  # a small group: added directly


async def test_contact_operations(tmp_path, clock):
    from openwx_worker.testing import is_event, sim_post, wait_item
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        book = h.client.contacts
        carol = book.first_friend(name="Carol")
        start = h.events.last_event_id
        await h.client.set_remark(carol.id, "卡卡")
        ev = await wait_item(h, is_event("friend_property_change"), after=start)
        assert ev.params[1:] == ["markname", "", "卡卡"]
        pinned = sim.world.accounts[ALICE].friends["wxid_carol0000000001"]
        await h.client.stick(carol.id, False)
        assert pinned.pinned is False
        await h.client.stick(carol.id, True)
        assert pinned.pinned is True

        erin = [m for m in book.first_group(name="测试群").member if m.markname == "Erin"][0]
        await h.client.add_friend(erin.id, "hello Erin")
        outgoing = (await _get(sim, f"/sim/accounts/{ALICE}/outgoing_requests")).json()
        assert [(r["wxid"], r["greeting"]) for r in outgoing] == [
            ("wxid_erin00000000003", "hello Erin")]

        await sim_post(sim, f"/sim/accounts/{ALICE}/friend_requests",
                       {"from": {"wxid": "wxid_ivan0000000010", "nickname": "Ivan"},
                        "greeting": "hi"})
        req = await wait_item(h, is_event("friend_request"), after=start)
        await h.client.accept_friend_request(req.params[0], req.params[3])
        ev = await wait_item(h, is_event("new_friend"), after=start)
        assert ev.params[0]["name"] == "Ivan"

        data, mime = await h.client.get_avatar(carol.id)
        assert data[:2] == b"\xff\xd8" and mime.startswith("image/")
        group = book.first_group(name="测试群")
        data, _ = await h.client.get_avatar(group.id)
        assert data[:2] == b"\xff\xd8"
        erin = [m for m in group.member if m.markname == "Erin"][0]
        data, _ = await h.client.get_avatar(erin.id, group_id=group.id)
        assert data[:2] == b"\xff\xd8"


async def test_send_retried_after_timeout_is_delivered_once(tmp_path, clock):
    from openwx_worker.testing import sim_post
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        await sim_post(sim, "/sim/faults", {"endpoint": "webwxsendmsg", "kind": "delay",
                                            "delay": 45.0, "count": 1})
        result = await h.client.send_text(carol.id, "exactly once")
        sent = [s for s in await _sent(sim) if s["content"] == "exactly once"]
        assert [s["msg_id"] for s in sent] == [result.msg_id]


async def test_send_failure_is_reported_and_raised(tmp_path, clock):
    from openwx_worker.errors import TooFrequent
    from openwx_worker.testing import sim_post
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        carol = h.client.contacts.first_friend(name="Carol")
        await sim_post(sim, "/sim/faults", {"endpoint": "webwxsendmsg", "kind": "ret_1205",
                                            "count": 5})
        with pytest.raises(TooFrequent) as info:
            await h.client.send_text(carol.id, "too fast")
        local_id = info.value.local_id
        report = [r for r in _reports(h) if r.content == "too fast"]
        assert len(report) == 1
        assert report[0].id == local_id and report[0].code == 1205
        assert report[0].msg == "发送失败"
        assert not [s for s in await _sent(sim) if s["content"] == "too fast"]


async def test_send_text_to_group(tmp_path, clock):
    from wechat_sim.testing import open_sim

    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        group = h.client.contacts.first_group(name="测试群")
        result = await h.client.send_text(group.id, "hello group")
        r = result.report
        assert r.type == "group_message" and r.group_id == group.id and r.receiver_id == ""
        assert r.group == "测试群" and r.sender_id == h.client.user.id
        assert [s["msg_id"] for s in await _sent(sim) if s["content"] == "hello group"] == [
            result.msg_id]


async def test_invite_into_a_large_group_uses_invitemember(tmp_path, clock):
    """Above InviteStartCount (40) WeChat refuses addmember; the client invites instead."""
    from openwx_worker.testing import is_event, wait_item
    from wechat_sim.testing import open_sim
    from wechat_sim.worldgen import generate

    world = generate(friends=60, groups=1, members=45, accounts=1, seed=2)
    async with open_sim(world=world, auto_confirm=True) as sim, running_client(
            sim, tmp_path) as h:
        book = h.client.contacts
        group = book.groups[0]
        inside = {m.id for m in group.member}
        outsider = next(f for f in book.friends if f.id not in inside and f.id.startswith("@")
                        and f.category == "好友")
        start = h.events.last_event_id
        await h.client.invite_members(group.id, [outsider.id])
        ev = await wait_item(h, is_event("new_group_member"), after=start)
        assert ev.params[0]["id"] == outsider.id
        calls = (await _get(sim, "/sim/requests?path=webwxupdatechatroom")).json()
        assert "fun=invitemember" in calls[-1]["query"]
