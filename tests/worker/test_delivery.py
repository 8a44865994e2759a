"""post_api delivery to a real webhook on loopback (delivery.py, signing.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
import pytest
import trio
import trio.testing
from events_webhook import Webhook, open_webhook

from openwx_worker import models, signing
from openwx_worker.config import WorkerConfig
from openwx_worker.delivery import (
    DEFAULT_EVENT_LIST,
    DeliveryOptions,
    mime_base64,
    open_delivery,
)
from openwx_worker.events import EventLog, open_event_log
from openwx_worker.outbox import Delivery, make_http_client


@pytest.fixture
def clock():
    # Loopback I/O is in flight while every task waits: jump the clock only after
    # 0.2 s of real idleness, so a webhook's answer is never mistaken for a timeout.
    return trio.testing.MockClock(autojump_threshold=0.2)


def friend_text(i: int = 1, **kw) -> models.ReceiveMessage:
    return models.ReceiveMessage(
        id=f"10{i}", msg_class="recv", type="friend_message", format="text", time=1442542632,
        content=f"测试一下 {i}", sender="灰灰", sender_id="@2372835507", sender_uid="",
        sender_name="灰灰", sender_account="hh", sender_markname="", sender_category="好友",
        receiver="小灰", receiver_id="@4072574066", receiver_uid=123456, receiver_name="小灰",
        receiver_account="", receiver_markname="", **kw,
    )


def all_formats(media_file) -> list:
    """One report of every message format and type the document shows."""
    group = dict(group="PERL学习交流", group_id="@@2617047292", group_uid="",
                 group_name="PERL学习交流")
    base = dict(time=1442542632, sender="灰灰", sender_id="@2372835507", sender_uid="",
                sender_name="", receiver="小灰", receiver_id="@4072574066", receiver_uid="",
                receiver_name="")
    return [
        friend_text(1),
        models.ReceiveMessage(id="2", msg_class="recv", type="group_message", content="hi",
                              **base, **group),
        models.ReceiveMessage(id="3", msg_class="recv", type="group_notice", time=1442542632,
                              content="你邀请灰太狼加入了群聊", receiver="小灰",
                              receiver_id="@4072574066", **group),
        models.SendMessage(id="4:@@2617047292", msg_class="send", type="group_message",
                           content="测试一下", source="local", from_="api", code=0, **base,
                           **group),
        models.ReceiveMessage(id="5", msg_class="recv", type="group_message", format="media",
                              content=f"[图片]({media_file})", media_path=str(media_file),
                              media_id="5:3", media_mime="image/jpg", media_name="x.jpg",
                              media_size=str(media_file.stat().st_size), media_mtime=1462763788,
                              media_ext="jpg", media_type="image", media_code=3, **base,
                              **group),
        models.ReceiveMessage(id="6", msg_class="recv", type="group_message", format="app",
                              content="[应用分享]标题：饿了么给你发红包", app_name="饿了么",
                              app_id="wx123456", app_title="饿了么给你发红包",
                              app_desc="撩拨你的深夜味蕾", app_url="https://h.ele.me/hongbao",
                              **base, **group),
        models.SendMessage(id="7", msg_class="send", type="group_message", format="revoke",
                           content="[撤回消息](你撤回了一条消息)", revoke_id="2513410439052032973",
                           source="outer", **base, **group),
        models.SendMessage(id="8", msg_class="send", type="friend_message", format="card",
                           content="[名片]昵称：xxx", card_name="xxx", card_id="@bc9b",
                           card_province="上海", card_city="中国", card_account="",
                           card_sex="male", card_avatar="http://wx.qlogo.cn/x", **base),
        models.ReceiveMessage(id="9", msg_class="recv", type="friend_message", format="payment",
                              content="[转账](收到转账0.01元)", **base),
    ]


def all_events() -> list[models.Event]:
    friend = models.make_friend(id="@75b9", name="小冰", account="ms-xiaoice")
    member = models.make_member(id="@m1", nickname="灰灰")
    group = models.make_group(id="@@g1", name="PERL学习交流", members=[member], self_id="@me")
    user = models.make_user(id="@me", uid=123, name="小灰")
    return [
        models.event("state_change", "loading", "scaning"),
        models.event("input_qrcode", "/tmp/qrcode.jpg", mime_base64(b"\xff\xd8qr")),
        models.event("login", 1),
        models.event("new_friend", friend),
        models.event("lose_friend", friend),
        models.event("new_group", group),
        models.event("lose_group", group),
        models.event("new_group_member", member, group),
        models.event("lose_group_member", member, group),
        models.event("friend_request", "@75ab55c416dbe3a", "小灰", "小灰请求加你为好友", "v2_85c@stranger"),
        models.event("update_user", user),  # not in the default post_event_list
        models.event("friend_property_change", friend, "markname", "", "冰"),  # opt-in too
        models.event("stop"),
    ]


@asynccontextmanager
async def delivering(
    tmp_path, hook: Webhook, replies=None, **options
) -> AsyncIterator[tuple[EventLog, Delivery]]:
    with EventLog.open(tmp_path / "events.sqlite3") as log:
        opts = DeliveryOptions(post_api=hook.url, **options)
        http = make_http_client(opts)
        async with http, trio.open_nursery() as nursery:
            delivery = Delivery(opts, log, http=http, replies=replies)
            await nursery.start(delivery.run)
            yield log, delivery
            nursery.cancel_scope.cancel()


async def test_every_message_format_and_event_reaches_the_webhook(tmp_path):
    media_file = tmp_path / "pic.jpg"
    media_file.write_bytes(bytes(range(256)) * 3)
    items = all_formats(media_file) + all_events()
    async with open_webhook() as hook, delivering(tmp_path, hook) as (log, _):
        for item in items:
            log.publish(item)
        posted_events = [e for e in all_events() if e.event in DEFAULT_EVENT_LIST]
        await hook.wait_for(len(all_formats(media_file)) + len(posted_events))
        await trio.sleep(0.5)  # nothing else arrives (the two opt-in events are skipped)
    assert len(hook.received) == len(all_formats(media_file)) + len(posted_events)
    expected = [i for i in items if not isinstance(i, models.Event) or i.event in DEFAULT_EVENT_LIST]
    for got, item in zip(hook.received, expected, strict=True):
        assert got.method == "POST" and got.target == "/post_api"
        assert got.headers["content-type"] == "application/json"
        assert got.headers[signing.EVENT_ID_HEADER.lower()] == str(item.event_id)
        doc = got.json()
        want = msgspec.json.decode(models.encode(item))
        if doc.get("format") == "media":
            # media_data: the file's bytes, MIME base64 (76 columns, trailing newline)
            data = doc.pop("media_data")
            assert base64.b64decode(data) == media_file.read_bytes()
            assert all(len(line) <= 76 for line in data.split("\n")) and data.endswith("\n")
            assert data.count("\n") == -(-len(base64.b64encode(media_file.read_bytes())) // 76)
        assert doc == want
        assert doc["event_id"] == item.event_id
    first = hook.received[0].json()
    assert first["post_type"] == "receive_message" and first["class"] == "recv"
    assert first["content"] == "测试一下 1" and first["sender_category"] == "好友"
    # the keys of the API document's examples (post_api section)
    group_msg = hook.received[1].json()
    assert {"receiver", "time", "content", "class", "sender_id", "receiver_id", "group",
            "group_id", "group_name", "sender", "sender_name", "id", "type", "format",
            "post_type"} <= set(group_msg)
    notice = hook.received[2].json()
    assert notice["type"] == "group_notice" and "sender_id" not in notice
    media = hook.received[4].json()
    assert {"media_path", "media_id", "media_mime", "media_name", "media_size", "media_mtime",
            "media_ext", "media_data"} <= set(media)
    app = hook.received[5].json()
    assert {"app_name", "app_id", "app_title", "app_desc", "app_url"} <= set(app)
    assert hook.received[6].json()["revoke_id"] == "2513410439052032973"
    assert {"card_avatar", "card_id", "card_account", "card_city", "card_province",
            "card_name", "card_sex"} <= set(hook.received[7].json())
    sent = hook.received[3].json()
    assert sent["post_type"] == "send_message" and sent["from"] == "api" and sent["code"] == ""
    names = [r.json()["event"] for r in hook.received if r.json()["post_type"] == "event"]
    assert names == [e.event for e in posted_events]
    request = [r.json() for r in hook.received if r.json().get("event") == "friend_request"][0]
    assert request["params"] == ["@75ab55c416dbe3a", "小灰", "小灰请求加你为好友", "v2_85c@stranger"]


async def test_options_filter_events_and_media_data(tmp_path):
    media_file = tmp_path / "pic.jpg"
    media_file.write_bytes(b"\x89PNG...")
    items = all_formats(media_file) + all_events()
    async with open_webhook() as hook, delivering(
        tmp_path, hook, post_event=False, post_media_data=False,
        post_message_filter={"type": "group_message", "class": "send"},
    ) as (log, delivery):
        for item in items:
            log.publish(item)
        await delivery.wait_delivered(log.last_event_id)
    docs = [r.json() for r in hook.received]
    assert all(d["post_type"] != "event" for d in docs)  # post_event off
    # the filter, with the JSON key names: {type: group_message, class: send}
    assert [d["id"] for d in docs] == ["4:@@2617047292", "7"]
    assert {d["type"] for d in docs} == {"group_message"}


async def test_post_media_data_off_removes_media_data(tmp_path):
    media_file = tmp_path / "pic.jpg"
    media_file.write_bytes(b"\x89PNG...")
    async with open_webhook() as hook, delivering(
        tmp_path, hook, post_media_data=False
    ) as (log, delivery):
        for item in all_formats(media_file):
            log.publish(item)
        await delivery.wait_delivered(log.last_event_id)
    media = [r.json() for r in hook.received if r.json()["format"] == "media"][0]
    assert "media_data" not in media and media["media_path"] == str(media_file)


async def test_webhook_outage_refused_then_500_then_timeouts(tmp_path, clock):
    """The webhook is down for a while; afterwards every item arrives, in order, once."""
    async with open_webhook() as hook, delivering(tmp_path, hook, retry_base=2, retry_max=30) as (
        log, delivery
    ):
        for i in range(3):
            log.publish(friend_text(i))
        await hook.wait_for(3)
        hook.stop()  # connection refused
        for i in range(3, 10):
            log.publish(friend_text(i))
        await trio.sleep(100)
        refused = delivery.statistics()
        assert refused.retries >= 5 and "Connect" in (refused.last_error or "")
        assert refused.backlog == 7
        await hook.start()
        hook.mode = "error"  # 500s
        await trio.sleep(150)
        assert hook.attempts > 3 and len(hook.received) == 3
        assert delivery.statistics().last_error == "HTTP 500"
        hook.mode = "hang"  # accepted, never answered: client timeouts
        tries = hook.attempts
        await trio.sleep(150)
        assert hook.attempts > tries
        assert "Timeout" in (delivery.statistics().last_error or "")
        hook.stop()
        await hook.start()  # drop the hung connections
        hook.mode = "ok"
        for i in range(10, 12):
            log.publish(friend_text(i))
        with trio.fail_after(60):  # within one capped backoff (30 s) plus a post
            await hook.wait_for(12)
            await delivery.wait_delivered(12)
        assert delivery.statistics().last_error is None
    ids = [r.json()["event_id"] for r in hook.received]
    assert ids == list(range(1, 13))


async def test_backoff_is_capped_exponential_with_jitter(tmp_path):
    with EventLog.open(tmp_path / "e.db") as log:
        opts = DeliveryOptions(post_api="http://127.0.0.1:9/", retry_base=0.5, retry_max=60)
        d = Delivery(opts, log, http=make_http_client(opts))
        for failures, nominal in [(1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (50, 60.0)]:
            delays = [d.backoff(failures) for _ in range(200)]
            assert nominal / 2 <= min(delays) and max(delays) <= nominal
            assert max(delays) - min(delays) > nominal / 4  # jittered, not in step


async def test_delivery_resumes_from_saved_cursor(tmp_path):
    async with open_webhook() as hook:
        async with delivering(tmp_path, hook) as (log, delivery):
            for i in range(5):
                log.publish(friend_text(i))
            await delivery.wait_delivered(5)  # accepted and the cursor saved
        with EventLog.open(tmp_path / "events.sqlite3") as log:  # delivery is down...
            for i in range(5, 8):
                log.publish(friend_text(i))  # ...while these are published
        async with delivering(tmp_path, hook) as (log, _):
            log.publish(friend_text(8))
            await hook.wait_for(9)
    assert [r.json()["event_id"] for r in hook.received] == list(range(1, 10))


async def test_signature_headers_verify(tmp_path):
    secret = "s3cret"
    async with open_webhook() as hook, delivering(tmp_path, hook, post_secret=secret) as (log, _):
        log.publish(friend_text(1))
        log.publish(models.event("login", 1))
        await hook.wait_for(2)
    for got in hook.received:
        ts = got.headers[signing.TIMESTAMP_HEADER.lower()]
        sig = got.headers[signing.SIGNATURE_HEADER.lower()]
        assert sig.startswith("sha256=")
        assert signing.verify_signature(secret, got.body, ts, sig)
        assert not signing.verify_signature("wrong", got.body, ts, sig)
        assert not signing.verify_signature(secret, got.body + b" ", ts, sig)
        assert not signing.verify_signature(secret, got.body, ts, sig, now=int(ts) + 3600)
        assert not signing.verify_signature(secret, got.body, None, sig)


async def test_open_delivery_from_worker_config(tmp_path):
    """The one call runtime.open_worker makes, driven by a real WorkerConfig."""
    async with open_webhook() as hook:
        config = WorkerConfig(data_dir=str(tmp_path), post_api=hook.url + "?client=bot1",
                              post_event_list=("login",))
        with open_event_log(config) as log:
            async with open_delivery(config, log) as delivery:
                assert delivery is not None
                log.publish(models.event("state_change", "updating", "running"))
                log.publish(models.event("login", 0))
                await delivery.wait_delivered(2)
        assert [r.json()["event"] for r in hook.received] == ["login"]
        assert hook.received[0].target == "/post_api?client=bot1"
        # without post_api the cursor is forgotten (it would hold back pruning otherwise)
        config = WorkerConfig(data_dir=str(tmp_path))
        with open_event_log(config) as log:
            assert log.cursor("post_api") == 2
            async with open_delivery(config, log) as delivery:
                assert delivery is None
            assert log.cursor("post_api") is None


_CHILD = r"""
import sys
import trio
from openwx_worker import models
from openwx_worker.delivery import DeliveryOptions
from openwx_worker.events import EventLog
from openwx_worker.outbox import Delivery, make_http_client

async def main(path, url, count):
    with EventLog.open(path) as log:
        for i in range(count):
            log.publish(models.ReceiveMessage(
                id=f"m{i}", msg_class="recv", type="friend_message", time=1, content=str(i),
                sender_id="@f", receiver_id="@me"))
        options = DeliveryOptions(post_api=url)
        async with make_http_client(options) as http:
            await Delivery(options, log, http=http).run()

trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


async def test_sigkill_mid_delivery_loses_nothing(tmp_path):
    """A worker killed with SIGKILL while posting: the next run posts the rest.

    At-least-once: the one item in flight at the kill may arrive twice, with the
    same event_id; no item is missing and the order is kept.
    """
    import signal
    import sys

    db = str(tmp_path / "events.sqlite3")
    total = 1000

    async def run_child(hook, count):
        return await trio.lowlevel.open_process(
            [sys.executable, "-c", _CHILD, db, hook.url, str(count)])

    def ids(hook):
        return [r.json()["event_id"] for r in hook.received]

    async with open_webhook() as hook:
        with trio.fail_after(60):
            first = await run_child(hook, total)
            await hook.wait_for(100)
            first.send_signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
            before = len(hook.received)
            assert before < total  # really killed mid-delivery
            second = await run_child(hook, 0)
            try:
                while set(ids(hook)) != set(range(1, total + 1)):
                    await hook.arrived.wait()
            finally:
                second.kill()
                await second.wait()
    got = ids(hook)
    assert list(dict.fromkeys(got)) == list(range(1, total + 1))  # order kept, none lost
    assert len(got) - total <= 1  # at most the item in flight, with its same id


async def test_post_stdout_prints_every_report_as_one_json_line(tmp_path):
    """Reference C.7: with post_stdout each report is also one JSON line on stdout."""
    from openwx_worker.delivery import StdoutReporter

    written: list[bytes] = []
    enough = trio.Event()
    media_file = tmp_path / "pic.jpg"
    media_file.write_bytes(b"\xff\xd8" * 100)
    expected_lines = len(all_formats(media_file)) + 1  # the messages and "login"

    def write(data: bytes) -> None:
        written.append(data)
        if sum(chunk.count(b"\n") for chunk in written) >= expected_lines:
            trio.from_thread.run_sync(enough.set)  # write runs in a worker thread

    with EventLog.open(tmp_path / "e.db") as log:
        log.publish(friend_text(0))  # an earlier run's item: stdout is a live view
    with EventLog.open(tmp_path / "e.db") as log:
        reporter = StdoutReporter(DeliveryOptions(post_event_list=("login",)), log, write=write)
        async with trio.open_nursery() as nursery:
            await nursery.start(reporter.run)
            for item in all_formats(media_file) + all_events():
                log.publish(item)
            with trio.fail_after(10):
                await enough.wait()
            nursery.cancel_scope.cancel()
    lines = b"".join(written).decode().splitlines()
    assert len(lines) == expected_lines
    docs = [msgspec.json.decode(line) for line in lines]
    assert [d.get("event") for d in docs if d["post_type"] == "event"] == ["login"]
    assert [d["id"] for d in docs if d["post_type"] != "event"] == [
        m.id for m in all_formats(media_file)]
    media = [d for d in docs if d.get("format") == "media"][0]
    assert base64.b64decode(media["media_data"]) == media_file.read_bytes()


async def test_redirects_keep_the_post_and_its_body(tmp_path):
    """A webhook that moved (301/302/303/307) still gets a POST with the whole body:
    turning it into a body-less GET, as browsers do, would silently lose the item."""
    async with open_webhook() as hook:
        def answer(got):
            hops = {"/a": ("/b", 301), "/b": ("/c", 302), "/c": ("/d", 303),
                    "/d": ("/post_api", 307)}
            if got.target in hops:
                where, status = hops[got.target]
                return status, "text/plain", b"", {"Location": where}
            return 200, "application/json", b"{}"

        hook.answer = answer
        with EventLog.open(tmp_path / "events.sqlite3") as log:
            options = DeliveryOptions(post_api=f"http://127.0.0.1:{hook.port}/a")
            async with make_http_client(options) as http, trio.open_nursery() as nursery:
                delivery = Delivery(options, log, http=http)
                await nursery.start(delivery.run)
                log.publish(friend_text(1))
                await delivery.wait_delivered(1)
                nursery.cancel_scope.cancel()
    assert [(r.method, r.target) for r in hook.requests] == [
        ("POST", "/a"), ("POST", "/b"), ("POST", "/c"), ("POST", "/d"), ("POST", "/post_api")]
    assert all(r.body == hook.requests[0].body for r in hook.requests)
    assert hook.received[-1].json()["event_id"] == 1


async def test_a_row_that_no_longer_decodes_is_posted_as_stored(tmp_path):
    """A bad row (say, written by another version) neither stops delivery nor is lost."""
    bad = b'{"event_id":2,"format":"media","post_type":"receive_message","type":"x"}'
    async with open_webhook() as hook, delivering(
        tmp_path, hook, post_message_filter={"type": "friend_message"}
    ) as (log, delivery):
        log.publish(friend_text(1))
        log._db.execute(  # what a publish of an unknown shape would have stored
            "INSERT INTO log (event_id, created, post_type, name, body) VALUES (2, 0, ?, ?, ?)",
            ("receive_message", "x", bad))
        log._last_id = 2
        log.publish(friend_text(3))
        await delivery.wait_delivered(3)
    assert [r.body for r in hook.received][1] == bad
    assert [r.json()["event_id"] for r in hook.received] == [1, 2, 3]
