"""Delivery end to end: a worker on the simulator posting to a real webhook on loopback."""

from __future__ import annotations

import base64

import httpx
import msgspec
import pytest
import trio
from events_webhook import open_webhook

from openwx_worker.testing import running_worker, sim_post
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"
GROUP = "1234567890@chatroom"


@pytest.fixture
def clock(autojump_clock):
    # real loopback I/O (simulator, webhook) is in flight while all tasks wait
    autojump_clock.autojump_threshold = 0.05
    return autojump_clock


async def _sent(sim) -> list[dict]:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        return (await http.get(f"/sim/accounts/{ALICE}/sent")).json()


def _messages(hook, post_type: str = "receive_message") -> list[dict]:
    docs = [r.json() for r in hook.received]
    return [d for d in docs if d["post_type"] == post_type]


async def _wait(predicate) -> None:
    """Poll `predicate` (it may ask the simulator over HTTP: there is no event to wait on)."""
    with trio.fail_after(60):
        while not await predicate():  # noqa: ASYNC110 - polling another server's state
            await trio.sleep(0.1)


async def test_reply_protocol_sends_text_back_to_friend_and_group(tmp_path, clock):
    """{"reply": ...} answered to a received message goes back to that chat, once:
    the reply's own send_message report is not answered again (reference H.6)."""

    def answer(got):
        doc = got.json()
        if doc["post_type"] == "receive_message" and doc["content"] == "ping":
            where = "group" if doc["type"] == "group_message" else "friend"
            return 200, "application/json; charset=UTF-8", msgspec.json.encode(
                {"reply": f"pong {where}", "code": 0})
        if doc["post_type"] == "send_message":
            return 200, "application/json", b'{"reply":"this would loop"}'
        return 200, "application/json", b"{}"

    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        hook.answer = answer
        async with running_worker(sim, tmp_path, post_api=hook.url) as worker:
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "ping"})
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "group": GROUP, "content": "ping"})

            async def both_replied():
                return len([s for s in await _sent(sim) if s["content"].startswith("pong")]) == 2

            await _wait(both_replied)
            await trio.sleep(30)  # time for a loop to show, if there were one
            sent = await _sent(sim)
            assert sorted((s["to"], s["content"]) for s in sent) == [
                (GROUP, "pong group"), (CAROL, "pong friend")]
            reports = _messages(hook, "send_message")
            assert sorted(r["content"] for r in reports) == ["pong friend", "pong group"]
            assert {r["from"] for r in reports} == {"code"}
            assert worker.delivery.statistics().backlog == 0


async def test_received_image_reaches_webhook_with_media_data(tmp_path, clock):
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        async with running_worker(sim, tmp_path, post_api=hook.url):
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "type": "image",
                            "data_b64": base64.b64encode(data).decode()})

            async def arrived():
                return any(m["format"] == "media" for m in _messages(hook))

            await _wait(arrived)
    media = [m for m in _messages(hook) if m["format"] == "media"][0]
    assert media["media_type"] == "image" and media["sender"] == "Carol"
    assert base64.b64decode(media["media_data"]) == data
    assert media["media_data"].endswith("\n")
    assert max(len(line) for line in media["media_data"].splitlines()) == 76
    events = [r.json()["event"] for r in hook.received if r.json()["post_type"] == "event"]
    assert "login" in events and events[-1] == "stop"  # flushed as the worker exits


async def test_restart_resumes_delivery_in_order_each_id_once(tmp_path, clock):
    """What was published while the webhook was down arrives after a worker restart,
    in order, each id once. (WeChat's replays of already-seen MsgIds are covered end
    to end in test_delivery_replay.py.)"""
    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        async with running_worker(sim, tmp_path, post_api=hook.url):
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "first"})

            async def first():
                return [m["content"] for m in _messages(hook)] == ["first"]

            await _wait(first)
            hook.mode = "error"  # the webhook goes down...
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "second"})
            await trio.sleep(10)
        assert [m["content"] for m in _messages(hook)] == ["first"]
        hook.mode = "ok"  # ...and is back for the next run, which resumes the session
        async with running_worker(sim, tmp_path, post_api=hook.url):
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "third"})

            async def third():
                return "third" in [m["content"] for m in _messages(hook)]

            await _wait(third)
            await trio.sleep(10)
    received = _messages(hook)
    assert [m["content"] for m in received] == ["first", "second", "third"]
    ids = [r.json()["event_id"] for r in hook.received]
    assert ids == sorted(set(ids))  # in order, each id once


async def test_reply_protocol_sends_media_by_url_and_allowed_local_path(tmp_path, clock):
    """{"media": URL or local path}: both are sent (reference H.6: Mojo ignored local
    paths); a path outside the allowed folders is refused and nothing is sent."""
    jpeg = b"\xff\xd8\xff\xe0" + bytes(i % 251 for i in range(3000))
    local = tmp_path / "media" / "local.jpg"
    local.parent.mkdir(parents=True)
    local.write_bytes(jpeg[::-1])
    secret = tmp_path / "secret.jpg"  # not in media_dir nor media_allowed_dirs
    secret.write_bytes(jpeg)

    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        def answer(got):
            if got.method == "GET":  # the webhook also serves the picture for the URL reply
                return 200, "image/jpeg", jpeg
            doc = got.json()
            content = doc.get("content") if doc["post_type"] == "receive_message" else None
            media = {"pic-url": f"http://127.0.0.1:{hook.port}/pic.jpg", "pic-local": str(local),
                     "pic-secret": str(secret)}.get(content)
            if media is None:
                return 200, "application/json", b"{}"
            return 200, "application/json", msgspec.json.encode({"reply": content, "media": media})

        hook.answer = answer
        async with running_worker(sim, tmp_path, post_api=hook.url) as worker:
            for content in ("pic-secret", "pic-url", "pic-local"):
                await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                               {"from": CAROL, "content": content})

            async def all_sent():
                return len(await _sent(sim)) >= 5  # three texts, two pictures

            await _wait(all_sent)
            await trio.sleep(10)
            sent = await _sent(sim)
            assert [(s["to"], s["content"]) for s in sent if s["msg_type"] == 1] == [
                (CAROL, "pic-secret"), (CAROL, "pic-url"), (CAROL, "pic-local")]
            pictures = [s for s in sent if s["msg_type"] != 1]
            assert len(pictures) == 2 and {s["to"] for s in pictures} == {CAROL}
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                got = [(await http.get(f"/sim/accounts/{ALICE}/sent/{s['msg_id']}/media")).content
                       for s in pictures]
            assert got == [jpeg, jpeg[::-1]]
            assert worker.delivery.statistics().backlog == 0
