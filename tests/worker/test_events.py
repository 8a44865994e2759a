"""EventLog: the durable, ordered log every consumer reads (events.py)."""

from __future__ import annotations

import logging

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openwx_worker import models
from openwx_worker.events import EventLog


def recv(i: int, **extra) -> models.ReceiveMessage:
    return models.ReceiveMessage(
        id=f"m{i}", msg_class="recv", type="friend_message", time=1700000000 + i,
        content=f"hello {i}", sender_id="@friend", receiver_id="@me", **extra,
    )


def test_publish_sets_monotonic_ids_that_survive_reopen(tmp_path):
    path = tmp_path / "events.sqlite3"
    with EventLog.open(path) as log:
        assert log.last_event_id == 0
        first = recv(1)
        assert log.publish(first) == 1
        assert first.event_id == 1
        assert log.publish(models.event("login", 1)) == 2
    with EventLog.open(path) as log:
        assert log.start_event_id == 2
        assert log.publish(recv(2)) == 3
        items = log.read_after(0, 10)
    assert [i.event_id for i in items] == [1, 2, 3]
    assert isinstance(items[0], models.ReceiveMessage)
    assert items[0].content == "hello 1"
    assert isinstance(items[1], models.Event) and items[1].params == [1]


def test_read_after_cursor_and_limit(tmp_path):
    with EventLog.open(tmp_path / "e.db") as log:
        for i in range(10):
            log.publish(recv(i))
        assert [i.event_id for i in log.read_after(3, 4)] == [4, 5, 6, 7]
        assert log.read_after(10, 5) == []
        assert log.read_after(99, 5) == []
        raw = log.read_raw_after(8, 5)
        assert [(r.event_id, r.post_type, r.name) for r in raw] == [
            (9, "receive_message", "friend_message"), (10, "receive_message", "friend_message")]
        assert b'"event_id":9' in raw[0].body


def test_ids_are_never_reused_after_pruning_everything(tmp_path):
    path = tmp_path / "e.db"
    with EventLog.open(path, max_count=2) as log:
        for i in range(5):
            log.publish(recv(i))
        log.prune()
        assert [i.event_id for i in log.read_after(0, 10)] == [4, 5]
    with EventLog.open(path, max_count=2, max_age=0.0) as log:  # everything is too old
        assert log.read_after(0, 10) == []
        assert log.publish(recv(9)) == 6


def test_seen_msg_id_survives_restart_and_is_bounded(tmp_path):
    path = tmp_path / "e.db"
    with EventLog.open(path, seen_max=5) as log:
        assert not log.seen_msg_id("m1")
        log.publish(recv(1))
        assert log.seen_msg_id("m1")
        log.publish(models.event("friend_request", "@x", "x", "hi", "ticket"), msg_id="777")
        assert log.seen_msg_id("777")
        sent = models.SendMessage(id="4242:@friend", msg_class="send", type="friend_message",
                                  time=1, content="x")
        log.publish(sent)
        assert log.seen_msg_id("4242:@friend") and log.seen_msg_id("4242")  # the echo's id
    with EventLog.open(path, seen_max=5) as log:
        assert log.seen_msg_id("m1") and log.seen_msg_id("777") and log.seen_msg_id("4242")
        for i in range(2, 6):
            log.publish(recv(i))
        log.prune()
        assert not log.seen_msg_id("m1")  # oldest forgotten: the set is bounded
        assert log.seen_msg_id("m5")


def test_pruning_undelivered_items_is_logged_and_counted(tmp_path, caplog):
    now = [1000.0]
    with EventLog.open(tmp_path / "e.db", max_count=100, max_age=60, now=lambda: now[0]) as log:
        for i in range(6):
            log.publish(recv(i))
        log.set_cursor("post_api", 2)  # a consumer that has handled 1 and 2
        now[0] += 61
        log.publish(recv(7))  # id 7, fresh
        with caplog.at_level(logging.WARNING, logger="openwx_worker.events"):
            assert log.prune() == 6
        stats = log.statistics()
        assert stats.pruned_total == 6
        assert stats.pruned_undelivered == 4  # ids 3..6 never reached the consumer
        assert stats.first_event_id == 7 and stats.stored == 1
        assert "removed before delivery" in caplog.text
    with EventLog.open(tmp_path / "e.db", now=lambda: now[0]) as log:  # counters persist
        assert log.statistics().pruned_undelivered == 4
        assert log.cursor("post_api") == 2


def test_pruning_delivered_items_is_not_a_warning(tmp_path, caplog):
    with EventLog.open(tmp_path / "e.db", max_count=2) as log:
        for i in range(5):
            log.publish(recv(i))
        log.set_cursor("post_api", 5)
        with caplog.at_level(logging.WARNING, logger="openwx_worker.events"):
            log.prune()
        assert log.statistics().pruned_undelivered == 0
        assert caplog.text == ""


def test_cursors(tmp_path):
    with EventLog.open(tmp_path / "e.db") as log:
        assert log.cursor("post_api") is None
        log.set_cursor("post_api", 3)
        log.set_cursor("post_api", 4)
        assert log.cursor("post_api") == 4
        log.drop_cursor("post_api")
        assert log.cursor("post_api") is None


async def test_wait_after_returns_at_once_when_something_is_newer(tmp_path, autojump_clock):
    with EventLog.open(tmp_path / "e.db") as log:
        log.publish(recv(1))
        with trio.fail_after(1):
            await log.wait_after(0)


async def test_wait_after_holds_until_publish_or_timeout(tmp_path, autojump_clock):
    """check_event's long-poll: hold up to 30 s, wake at once on a new item."""
    with EventLog.open(tmp_path / "e.db") as log:
        start = trio.current_time()
        with trio.move_on_after(30) as scope:
            await log.wait_after(0)
        assert scope.cancelled_caught
        assert trio.current_time() - start == pytest.approx(30)

        woke_at = []

        async def waiter():
            await log.wait_after(0)
            woke_at.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)
            await trio.sleep(7)
            log.publish(recv(1))
        assert woke_at == [pytest.approx(start + 37)] * 2  # every waiter wakes, none loses it
        assert [i.event_id for i in log.read_after(0, 20)] == [1]


async def test_subscribe_gets_new_items_and_is_bounded(tmp_path, caplog):
    with EventLog.open(tmp_path / "e.db") as log:
        log.publish(recv(0))  # before subscribing: not delivered to the channel
        with log.subscribe(max_buffer=2) as rx:
            for i in range(1, 4):
                log.publish(recv(i))
            got = [rx.receive_nowait().event_id, rx.receive_nowait().event_id]
            assert got == [2, 3]
            with pytest.raises(trio.WouldBlock):
                rx.receive_nowait()
            assert log.statistics().subscriber_drops == 1
            assert log.statistics().subscribers == 1
        assert log.statistics().subscribers == 0
        log.publish(recv(5))  # no subscriber left: nothing breaks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["publish", "publish", "publish", "reopen", "prune"]),
                max_size=60),
       st.integers(min_value=1, max_value=8))
def test_ids_stay_ordered_and_contiguous_through_reopens_and_pruning(tmp_path, ops, max_count):
    """Whatever happens, the log holds the newest published items, in publish order,
    and ids go on from the highest ever given (property test)."""
    path = tmp_path / f"prop-{len(list(tmp_path.iterdir()))}.db"
    published: list[int] = []
    log_cm = EventLog.open(path, max_count=max_count)
    log = log_cm.__enter__()
    try:
        for op in ops:
            if op == "publish":
                published.append(log.publish(recv(len(published))))
            elif op == "reopen":
                log_cm.__exit__(None, None, None)
                log_cm = EventLog.open(path, max_count=max_count)
                log = log_cm.__enter__()
            else:
                log.prune()
                assert log.statistics().stored <= max_count
        assert published == list(range(1, len(published) + 1))
        stored = [i.event_id for i in log.read_after(0, 10_000)]
        assert stored == published[len(published) - len(stored):]  # a suffix, in order
        assert log.last_event_id == len(published)
    finally:
        log_cm.__exit__(None, None, None)


def test_worker_config_bounds_apply_while_publishing(tmp_path):
    """outbox_max_count from WorkerConfig reaches the log, and pruning runs on its own
    as items are published (no consumer has to call prune)."""
    from openwx_worker.config import WorkerConfig
    from openwx_worker.events import open_event_log

    config = WorkerConfig(data_dir=str(tmp_path), account="bounded", outbox_max_count=10)
    with open_event_log(config) as log:
        log.set_cursor("post_api", 0)  # a consumer that never got anything
        for i in range(300):
            log.publish(recv(i))
        stats = log.statistics()
        assert stats.pruned_total >= 246 and stats.stored <= 300 - 246
        assert stats.pruned_undelivered == stats.pruned_total  # logged and counted
        assert stats.first_event_id == 300 - stats.stored + 1  # the newest are kept
    assert (tmp_path / "events_bounded.sqlite3").exists()
