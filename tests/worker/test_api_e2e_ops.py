"""The Openwx API end to end, continued: media, group and contact operations, avatars.

A real worker on the simulator, real HTTP; effects checked through the simulator.
"""

from __future__ import annotations

import io

import pytest
import trio
from PIL import Image
from test_api_e2e import ALICE, BOB, CAROL, DAVE, GROUP, api_on_sim

from openwx_worker.api.testing import serve_app
from openwx_worker.testing import is_event, sim_post, wait_item

ERIN = "wxid_erin00000000003"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.05
    return autojump_clock


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def files_app(scope, receive, send):
    """A tiny web server for media_path URLs: /logo.png, /slow.png, anything else 404."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    if scope["path"] == "/slow.png":
        await trio.sleep(3600)
    if scope["path"] == "/logo.png":
        body, status = png_bytes(), 200
    elif scope["path"] == "/big.png":
        body, status = png_bytes() + b"\0" * 4096, 200
    else:
        body, status = b"not here", 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"image/png" if status == 200 else b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- media


async def test_media_sends_uploads_and_refusals(tmp_path, clock):
    async with api_on_sim(tmp_path, media_fetch_timeout=5.0) as api:
        media_dir = tmp_path / "media"
        media_dir.mkdir(exist_ok=True)
        (media_dir / "pic.PNG").write_bytes(png_bytes())
        carol = api.friend_id(name="Carol")

        # A local file inside media_dir: uploaded and sent as an image (upper-case ext too).
        r = await api.call("send_friend_message", id=carol, media_path=str(media_dir / "pic.PNG"))
        assert r["code"] == 0 and r["status"] == "发送成功", r
        assert r["media_id"].endswith(":3") and r["id"] == f"{r['msg_id']}:{carol}"
        sent = await api.sent()
        assert (sent[-1]["to"], sent[-1]["msg_type"]) == (CAROL, 3)

        # Its media_id is reused: nothing uploaded again, same media sent to a group.
        r2 = await api.call("send_group_message", id=api.group_id(displayname="测试群"),
                            media_id=r["media_id"])
        assert r2["code"] == 0 and r2["media_id"] == r["media_id"]
        assert (await api.sent())[-1]["to"] == GROUP

        # Text and media in one request: both sent, one answer.
        r3 = await api.call("send_friend_message", id=carol, content="look",
                            media_path=str(media_dir / "pic.PNG"))
        assert r3["code"] == 0 and r3["text_msg_id"] and r3["msg_id"] != r3["text_msg_id"]
        assert [s["msg_type"] for s in (await api.sent())[-2:]] == [1, 3]

        # upload_media, then a file (not an image) sent by its media_id.
        (media_dir / "notes.txt").write_text("hello file")
        up = await api.call("upload_media", media_path=str(media_dir / "notes.txt"))
        assert up["code"] == 0 and up["media_code"] == 6 and up["media_type"] == "file"
        assert (up["media_name"], up["media_size"], up["media_ext"]) == ("notes.txt", 10, "txt")
        assert up["media_mime"] == "text/plain"
        r4 = await api.call("send_friend_message", id=carol, media_id=up["media_id"])
        assert r4["code"] == 0
        assert "notes.txt" in (await api.sent())[-1]["content"]

        # A multipart file part (addition).
        r5 = await api.http.post("/openwx/send_friend_message", data={"id": carol},
                                 files={"media": ("up.png", png_bytes(), "image/png")})
        assert r5.json()["code"] == 0 and r5.json()["media_id"].endswith(":3")
        # Mojo::Weixin's media_data: the raw bytes in a plain multipart field.
        r6 = await api.http.post("/openwx/send_friend_message",
                                 files={"id": (None, carol), "media_data": (None, png_bytes())})
        assert r6.json()["code"] == 0 and r6.json()["media_id"].endswith(":3"), r6.text
        sent = (await api.sent())[-1]
        got = await api.sim_http.get(f"/sim/accounts/{ALICE}/sent/{sent['msg_id']}/media")
        assert got.content == png_bytes()

        # Refused: outside the allowed folders, another scheme. Unavailable: missing file.
        count = len(await api.sent())
        r = await api.call("send_friend_message", id=carol, media_path="/etc/hostname")
        assert r["code"] == 410 and "media_allowed_dirs" in r["status"]
        r = await api.call("send_friend_message", id=carol, media_path=str(media_dir / "../x"))
        assert r["code"] == 410
        r = await api.call("send_friend_message", id=carol, media_path="file:///etc/hostname")
        assert r["code"] == 410
        r = await api.call("send_friend_message", id=carol, media_path=str(media_dir / "no.png"))
        assert r["code"] == 411
        r = await api.call("send_friend_message", id=carol, media_id="@crypt_x:6")
        assert r["code"] == 400 and "media_name" in r["status"]
        assert len(await api.sent()) == count


async def test_media_from_urls(tmp_path, clock):
    async with api_on_sim(tmp_path, media_fetch_timeout=5.0, media_size_max=4000) as api, \
            serve_app(files_app) as web:  # fmt: skip
        carol = api.friend_id(name="Carol")
        r = await api.call("send_friend_message", id=carol, media_path=f"{web}/logo.png")
        assert r["code"] == 0 and r["media_id"].endswith(":3")
        assert (await api.sent())[-1]["msg_type"] == 3
        r = await api.call("upload_media", media_path=f"{web}/missing.png")
        assert r["code"] == 411 and "404" in r["status"]
        start = trio.current_time()
        r = await api.call("send_friend_message", id=carol, media_path=f"{web}/slow.png")
        assert r["code"] == 411 and "timed out" in r["status"]  # no hang (H.3)
        assert trio.current_time() - start < 10
        count = len(await api.sent())
        r = await api.call("send_friend_message", id=carol, media_path=f"{web}/big.png")
        assert r["code"] == 411, r  # over media_size_max: refused, nothing sent
        assert len(await api.sent()) == count


# --------------------------------------------------------------------------- groups


async def test_group_operations(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol, dave, bob = (api.friend_id(name=n) for n in ("Carol", "Dave 大卫", "Bob"))

        def sim_group(topic: str):
            return next(g for g in api.sim.world.groups.values() if g.topic == topic)

        r = await api.call("create_group", friends=f"{carol},{dave}", displayname="新群")
        assert r["code"] == 0 and r["status"] == "success" and r["group_id"].startswith("@@")
        group = sim_group("新群")
        assert set(group.members) == {ALICE, CAROL, DAVE}
        assert api.worker.client.contacts.group(r["group_id"]) is not None

        assert await api.call("invite_friend", displayname="新群", friends=bob) == {
            "code": 0, "status": "success"}
        assert BOB in sim_group("新群").members

        dave_member = api.worker.client.contacts.member(r["group_id"], dave)
        assert dave_member is not None
        assert await api.call("kick_group_member", id=r["group_id"], members=dave) == {
            "code": 0, "status": "success"}
        assert DAVE not in sim_group("新群").members

        assert await api.call("set_group_displayname", id=r["group_id"],
                              new_displayname="改名了") == {"code": 0, "status": "success"}
        assert sim_group("改名了").wxid == group.wxid

        # WeChat refuses: removing from a group Alice does not own (Family is Carol's).
        family = api.group_id(displayname="Family")
        r = await api.call("kick_group_member", id=family, members=dave)
        assert r["code"] == 201 and r["status"].startswith("failure")

        # A refused create_group answers 201 with Mojo::Weixin's "id": null; no group made.
        groups_before = len(api.sim.world.groups)
        await sim_post(api.sim, "/sim/faults",
                       {"endpoint": "webwxcreatechatroom", "kind": "ret_1205", "count": 20})
        r = await api.call("create_group", friends=carol, displayname="不会有")
        assert r["code"] == 201 and r["id"] is None and r["status"].startswith("failure"), r
        assert len(api.sim.world.groups) == groups_before


# --------------------------------------------------------------------------- contacts


async def test_contact_operations(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol, dave = api.friend_id(name="Carol"), api.friend_id(name="Dave 大卫")
        friends = lambda: {f["wxid"]: f for f in api_friends}  # noqa: E731

        assert await api.call("set_markname", id=carol, new_markname="卡卡") == {
            "code": 0, "status": "success"}
        api_friends = (await api.account())["friends"]
        assert friends()[CAROL]["remark"] == "卡卡"
        r = await api.call("set_friend_markname", markname="Bobby", new_markname="")
        assert r["code"] == 0
        api_friends = (await api.account())["friends"]
        assert friends()[BOB]["remark"] == ""

        assert await api.call("stick", id=dave, op="1") == {"code": 0, "status": "success"}
        assert api.sim.world.account(ALICE).friends[DAVE].pinned
        assert (await api.call("stick", id=dave, op="0"))["code"] == 0
        assert not api.sim.world.account(ALICE).friends[DAVE].pinned

        # make_friend: Erin is in 测试群 but not Alice's friend.
        erin = next(m for m in api.worker.client.contacts.group(
            api.group_id(displayname="测试群")).member if m.name == "Erin")
        r = await api.call("make_friend", id=erin.id, verify="你好 Erin")
        assert r == {"code": 0, "status": "success"}
        outgoing = (await api.sim_http.get(f"/sim/accounts/{ALICE}/outgoing_requests")).json()
        assert ERIN in str(outgoing)

        # set_markname with group_id names a member: Carol (also a friend) gets the remark;
        # Erin is no friend, and WeChat refuses remarks on strangers (201).
        group = api.group_id(displayname="测试群")
        carol_member = api.worker.client.contacts.first_member(group, name="Carol")
        assert carol_member is not None
        r = await api.call("set_markname", group_id=group, id=carol_member[1].id,
                           new_markname="群里的卡")
        assert r == {"code": 0, "status": "success"}
        api_friends = (await api.account())["friends"]
        assert friends()[CAROL]["remark"] == "群里的卡"
        r = await api.call("set_markname", group_id=group, id=erin.id, new_markname="x")
        assert r["code"] == 201 and r["status"].startswith("failure"), r


async def test_accept_friend_request(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        start = api.worker.events.last_event_id
        await sim_post(api.sim, f"/sim/accounts/{ALICE}/friend_requests",
                       {"from": {"wxid": "wxid_frank0000000009", "nickname": "Frank"},
                        "greeting": "我是 Frank"})
        request = await wait_item(api.worker, is_event("friend_request"), after=start)
        user_id, name, verify, ticket = request.params
        assert (name, verify) == ("Frank", "我是 Frank")
        r = await api.call("accept_friend_request", id=user_id, displayname=name, ticket=ticket)
        assert r == {"code": 0, "status": "success", "id": user_id, "displayname": "Frank",
                     "ticket": ticket}
        friends = {f["wxid"] for f in (await api.account())["friends"]}
        assert "wxid_frank0000000009" in friends
        r = await api.call("accept_friend_request", id=user_id, ticket="bogus")
        assert r["code"] == -1 and r["status"].startswith("failure")


async def test_get_avatar_returns_image_bytes(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        group = api.group_id(displayname="测试群")
        erin = next(m for m in api.worker.client.contacts.group(group).member if m.name == "Erin")
        for params in [{"id": api.friend_id(name="Carol")}, {"id": group},
                       {"id": api.worker.client.contacts.self_id},
                       {"id": erin.id, "group_id": group}]:
            r = await api.http.get("/openwx/get_avatar", params=params)
            assert r.status_code == 200
            assert r.headers["content-type"] == "image/jpg", r.text
            assert r.content.startswith(b"\xff\xd8")
            assert r.headers["cache-control"] == "max-age=3600"
            assert r.headers["expires"].endswith(" GMT") and r.headers["last-modified"]
        # WeChat fails to give the image: a JSON error, code 411 (Mojo::Weixin: empty 503).
        await sim_post(api.sim, "/sim/faults",
                       {"endpoint": "webwxgeticon", "kind": "http_500", "count": 50})
        r = await api.http.get("/openwx/get_avatar", params={"id": api.friend_id(name="Carol")})
        assert r.status_code == 200 and r.json()["code"] == 411, r.text
        assert r.json()["status"].startswith("avatar not available")

