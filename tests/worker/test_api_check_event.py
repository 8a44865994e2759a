"""check_event over a real EventLog, served by hypercorn on loopback (fake clock).

Mojo::Weixin's buffer semantics (reference A.13) and the fixes of H.4: concurrent
waiters never get ``[null]``, a waiter that went away takes nothing; plus the
``cursor`` addition.
"""

from __future__ import annotations

import httpx
import pytest
import trio
from test_api_http import make_worker

from openwx_worker import models
from openwx_worker.api import create_app
from openwx_worker.api.testing import serve_app
from openwx_worker.events import EventLog


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.05
    return autojump_clock


@pytest.fixture
def events(tmp_path):
    with EventLog.open(tmp_path / "events.db") as log:
        yield log


def message(n: int, **extra) -> models.ReceiveMessage:
    return models.ReceiveMessage(
        id=f"m{n}", msg_class="recv", type="friend_message", time=1700000000 + n,
        content=f"hello {n}", sender_id="@a", receiver_id="@me", **extra,
    )  # fmt: skip


async def serve(tmp_path, events, **config):
    worker = make_worker(tmp_path, events, **config)
    return worker, serve_app(create_app(worker))


async def test_buffer_answers_at_once_then_holds_30s(tmp_path, events, clock):
    _, server = await serve(tmp_path, events)
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        events.publish(message(1))
        events.publish(models.event("state_change", "updating", "running"))  # never buffered
        events.publish(models.event("new_friend", {"id": "@n", "name": "N"}))
        got = (await http.get("/openwx/check_event")).json()
        assert [(i["post_type"], i.get("content") or i.get("event")) for i in got] == [
            ("receive_message", "hello 1"), ("event", "new_friend")]
        assert got[0]["event_id"] == 1 and got[0]["class"] == "recv"
        start = trio.current_time()
        assert (await http.get("/openwx/check_event")).json() == []  # taken: nothing left
        assert 30 <= trio.current_time() - start < 31


async def test_default_max_size_is_20(tmp_path, events, clock):
    _, server = await serve(tmp_path, events)
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        for n in range(25):
            events.publish(message(n))
        got = (await http.get("/openwx/check_event")).json()
        assert [i["content"] for i in got] == [f"hello {n}" for n in range(5, 25)]


async def test_keeps_the_newest_max_size_items(tmp_path, events, clock):
    _, server = await serve(tmp_path, events, check_event_list_max_size=5)
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        for n in range(12):
            events.publish(message(n))
        got = (await http.post("/openwx/check_event")).json()
        assert [i["content"] for i in got] == [f"hello {n}" for n in range(7, 12)]


async def test_event_list_and_message_filter_apply(tmp_path, events, clock):
    _, server = await serve(
        tmp_path, events, post_event_list=("new_friend", "friend_property_change"),
        post_message_filter={"type": "group_message"},
    )  # fmt: skip
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        events.publish(models.event("lose_friend", {"id": "@x"}))  # not in post_event_list
        events.publish(models.event("friend_property_change", {"id": "@a"}, "city", "a", "b"))
        events.publish(message(1))  # a friend_message: filtered out
        got = (await http.get("/openwx/check_event", params={"timeout": "0"})).json()
        assert [i["event"] for i in got] == ["friend_property_change"]


async def test_a_waiter_gets_what_arrives(tmp_path, events, clock):
    _, server = await serve(tmp_path, events)
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        answers: list = []

        async def poll() -> None:
            answers.append((await http.get("/openwx/check_event")).json())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            nursery.start_soon(poll)
            await trio.sleep(10)
            events.publish(message(1))
        # One waiter took the item; the other kept waiting and timed out with [] (H.4).
        assert sorted(answers, key=len) == [[], [message_json(answers, 1)]]


def message_json(answers: list, n: int) -> dict:
    item = next(a[0] for a in answers if a)
    assert item["content"] == f"hello {n}"
    return item


async def test_a_waiter_that_left_takes_nothing(tmp_path, events, clock):
    _, server = await serve(tmp_path, events)
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        with trio.move_on_after(5):
            await http.get("/openwx/check_event")  # the client gives up after 5 s
        await trio.sleep(1)
        events.publish(message(1))
        await trio.sleep(1)
        got = (await http.get("/openwx/check_event", params={"timeout": "0"})).json()
        assert [i["content"] for i in got] == ["hello 1"]


async def test_cursor_reads_after_an_event_id(tmp_path, events, clock):
    _, server = await serve(tmp_path, events)
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        for n in range(5):
            events.publish(message(n))
        events.publish(models.event("state_change", "updating", "running"))
        got = (await http.get("/openwx/check_event", params={"cursor": "2"})).json()
        assert [i["event_id"] for i in got] == [3, 4, 5, 6]  # every kind of item
        got = (await http.get("/openwx/check_event", params={"cursor": "0", "limit": "2"})).json()
        assert [i["event_id"] for i in got] == [1, 2]
        # The cursor read did not take anything from the buffer.
        got = (await http.get("/openwx/check_event", params={"timeout": "0"})).json()
        assert len(got) == 5

        async def publish_later() -> None:
            await trio.sleep(7)
            events.publish(message(9))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(publish_later)
            start = trio.current_time()
            got = (await http.get("/openwx/check_event", params={"cursor": "6"})).json()
        assert [i["content"] for i in got] == ["hello 9"]
        assert 7 <= trio.current_time() - start < 8
        # A cursor from another log (beyond the newest id) starts at now.
        got = (await http.get("/openwx/check_event", params={"cursor": "999", "timeout": "2"}))
        assert got.json() == []


async def test_a_row_that_no_longer_decodes_is_answered_as_stored(tmp_path, events, clock):
    """check_event chooses and renders items with post_api's own functions, so a row
    written by another version neither breaks the call (it was a 500) nor is lost."""
    _, server = await serve(tmp_path, events, post_message_filter={"type": "friend_message"})
    bad = b'{"event_id":2,"format":"media","post_type":"receive_message","type":"x"}'
    async with server as base, httpx.AsyncClient(base_url=base, timeout=None) as http:
        events.publish(message(1))
        events._db.execute(  # what a publish of an unknown shape would have stored
            "INSERT INTO log (event_id, created, post_type, name, body) VALUES (2, 0, ?, ?, ?)",
            ("receive_message", "x", bad))
        events._last_id = 2
        events.publish(message(3))
        r = await http.get("/openwx/check_event", params={"timeout": "0"})
        assert r.status_code == 200, r.text
        assert [i["event_id"] for i in r.json()] == [1, 2, 3]
        r = await http.get("/openwx/check_event", params={"cursor": "0", "timeout": "0"})
        assert [i["event_id"] for i in r.json()] == [1, 2, 3]
