"""The account's one ordered, durable log of messages and events.

Every message (received or sent) and every event of the account goes through
`EventLog.publish`, which gives it an `event_id` (a monotonic integer that survives
restarts and is never reused, even after pruning) and commits it to SQLite before
anything else can see it. Consumers then read from the log instead of from each other:

* `delivery` (post_api) reads with `read_after(cursor)` and stores its cursor here
  (`cursor` / `set_cursor`), so a restart resumes where it stopped;
* check_event reads with `read_after` and holds a long-poll with `wait_after`;
* consult waiters `subscribe()` to a bounded in-memory channel of new items.

One SQLite file per account (`events_{account}.sqlite3` in the data folder), WAL mode.
The log is bounded by age and by count. Pruning that removes items a registered
cursor (post_api delivery) has not reached yet is logged as a warning and counted
(`statistics().pruned_undelivered`, persisted), never silent.

Why SQLite calls run inline (not through `trio.to_thread`): `publish` must be
synchronous so that id assignment, commit and wake-up happen with no checkpoint in
between (the order of the log is the order of `publish` calls, and nothing can observe
an item that is not on disk yet). Each call is one small indexed statement in WAL mode
with `synchronous=NORMAL`: a commit appends to the WAL without fsync, measured in tens
of microseconds, which is less than a thread hop would cost. This survives a killed
process (SIGKILL), which is what at-least-once delivery needs; a power loss may lose the
last few commits. The occasional WAL checkpoint (every ~1000 pages) does fsync and can
take a few milliseconds; pruning deletes at most what was added since the last prune.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import trio

from openwx_worker import models

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 7 * 24 * 3600.0  # seconds an item stays in the log
DEFAULT_MAX_COUNT = 100_000  # items kept in the log
DEFAULT_SEEN_MAX = 50_000  # MsgIds remembered for replay de-duplication
_PRUNE_EVERY = 256  # publishes between two prune passes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    post_type TEXT NOT NULL,
    name TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _seen_keys(msg_id: str | None) -> tuple[str, ...]:
    """The ids to remember for a published item: a sent message's report id is
    "<MsgID>:<chat id>", and WeChat echoes that message back with the bare MsgID."""
    if not msg_id:
        return ()
    msg_id = str(msg_id)
    bare = msg_id.split(":", 1)[0]
    return (msg_id, bare) if bare and bare != msg_id else (msg_id,)


class StoredItem(msgspec.Struct, frozen=True):
    """One row of the log: the item's JSON exactly as published (event_id included)."""

    event_id: int
    post_type: str  # receive_message / send_message / event
    name: str  # the event name for events, the message `type` for messages
    body: bytes


class EventLogStats(msgspec.Struct, frozen=True):
    """A snapshot for /healthz and logs (`EventLog.statistics()`)."""

    last_event_id: int
    first_event_id: int | None  # oldest item still stored
    stored: int
    pruned_total: int  # items removed by the age/count bounds, ever
    pruned_undelivered: int  # of those, items a registered cursor had not reached
    subscribers: int
    subscriber_drops: int  # items a full subscriber channel could not take


class _Subscriber:
    __slots__ = ("send", "dropped")

    def __init__(self, send: trio.MemorySendChannel[models.Posted]) -> None:
        self.send = send
        self.dropped = 0


class EventLog:
    """The durable, ordered log. Open it with `EventLog.open(path)` or `open_event_log(config)`.

    Single writer: one worker process owns the file (the pid guard in state.py makes
    sure of it). All methods must be called from the trio thread that opened it.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        max_count: int = DEFAULT_MAX_COUNT,
        seen_max: int = DEFAULT_SEEN_MAX,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._db = conn
        self.max_age = max_age
        self.max_count = max(1, max_count)
        self.seen_max = max(1, seen_max)
        self._now = now  # wall clock: ages must compare across restarts
        self._subs: set[_Subscriber] = set()
        self._sub_drops = 0
        self._published = trio.Event()
        self._since_prune = 0
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
        self._last_id: int = row[0] if row else 0
        # Newest id when this process opened the log: a consumer with no saved cursor
        # starts here, so it sees everything of this run and nothing older.
        self.start_event_id: int = self._last_id
        self._counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        self.prune()

    # ---------------------------------------------------------------- opening

    @classmethod
    @contextmanager
    def open(cls, path: str | Path, **options: Any) -> Iterator[EventLog]:
        """Open (creating if needed) the log file at `path`; close it on exit."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            yield cls(conn, **options)
        finally:
            conn.close()

    # ---------------------------------------------------------------- writing

    @property
    def last_event_id(self) -> int:
        """The id of the newest item ever published (0 for an empty new log)."""
        return self._last_id

    def publish(self, item: models.Posted, *, msg_id: str | None = None) -> int:
        """Give `item` (a models.Message or models.Event) its event_id, store it, wake readers.

        The id is set on the item (`item.event_id`) and returned. For a message, its
        `id` is remembered for `seen_msg_id` (for a sent message's "<MsgID>:<chat>" the
        bare MsgID too, as WeChat echoes it); `msg_id` overrides which id is remembered
        (use it too for events born of a WeChat message, e.g. friend_request, so that a
        replay after re-login can be recognised).
        """
        event_id = self._last_id + 1
        item.event_id = event_id
        post_type = getattr(item, "post_type", "event")
        if post_type == "event":
            name = item.event  # type: ignore[union-attr]
        else:
            name = getattr(item, "type", "") or ""
            if msg_id is None:
                msg_id = getattr(item, "id", None) or None
        body = models.encode(item)
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT INTO log (event_id, created, post_type, name, body) VALUES (?,?,?,?,?)",
                (event_id, self._now(), post_type, name, body),
            )
            for seen in _seen_keys(msg_id):
                db.execute("INSERT OR IGNORE INTO seen (msg_id) VALUES (?)", (seen,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            item.event_id = None
            raise
        self._last_id = event_id
        self._wake(item)
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self.prune()
        return event_id

    def seen_msg_id(self, msg_id: str) -> bool:
        """True if a message (or event) with this WeChat MsgId was already published.

        WeChat replays unread messages after a re-login; the client checks this before
        publishing. The set survives restarts and keeps the newest `seen_max` ids.
        """
        row = self._db.execute("SELECT 1 FROM seen WHERE msg_id = ?", (str(msg_id),)).fetchone()
        return row is not None

    def _wake(self, item: models.Posted) -> None:
        self._published.set()
        self._published = trio.Event()
        for sub in tuple(self._subs):
            try:
                sub.send.send_nowait(item)
            except trio.WouldBlock:
                sub.dropped += 1
                self._sub_drops += 1
                log.warning(
                    "event subscriber is full, item %s not given to it (%d dropped so far)",
                    item.event_id,
                    sub.dropped,
                )
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subs.discard(sub)

    # ---------------------------------------------------------------- reading

    def read_raw_after(self, cursor: int, limit: int) -> list[StoredItem]:
        """Up to `limit` stored items with event_id > cursor, oldest first, as stored JSON."""
        rows = self._db.execute(
            "SELECT event_id, post_type, name, body FROM log WHERE event_id > ?"
            " ORDER BY event_id LIMIT ?",
            (cursor, limit),
        ).fetchall()
        return [StoredItem(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def read_after(self, cursor: int, limit: int) -> list[models.Posted]:
        """Up to `limit` items with event_id > cursor, oldest first, as models.Message/Event.

        A cursor older than the oldest stored item just starts at the oldest one (the
        gap was pruned, and counted when it was). A cursor beyond `last_event_id` reads
        nothing.
        """
        return [self.decode(s.body) for s in self.read_raw_after(cursor, limit)]

    def decode(self, body: bytes) -> models.Posted:
        """Stored JSON back into a models.ReceiveMessage, SendMessage or Event."""
        return models.decode_posted(body)

    async def wait_after(self, cursor: int) -> None:
        """Return once an item with event_id > cursor exists (at once if one already does).

        Callers bound the wait themselves (`with trio.move_on_after(30): ...`). Note: a
        cursor beyond `last_event_id` (a client remembering ids of another log) waits
        until the log catches up; check_event should clamp such cursors first.
        """
        while self._last_id <= cursor:
            await self._published.wait()

    @contextmanager
    def subscribe(self, max_buffer: int = 100) -> Iterator[trio.MemoryReceiveChannel[models.Posted]]:
        """A channel that receives every item published while the `with` block is open.

        Bounded: when the subscriber lags `max_buffer` items behind, newer items are not
        given to it (logged and counted); everything stays readable with `read_after`.
        """
        send, recv = trio.open_memory_channel[models.Posted](max_buffer)
        sub = _Subscriber(send)
        self._subs.add(sub)
        try:
            yield recv
        finally:
            self._subs.discard(sub)
            send.close()
            recv.close()

    # ---------------------------------------------------------------- cursors

    def cursor(self, name: str) -> int | None:
        """A consumer's saved position (the last event_id it finished), None if never saved."""
        row = self._db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, name: str, value: int) -> None:
        """Save a consumer's position durably. Registered cursors guard against silent pruning."""
        self._db.execute(
            "INSERT INTO cursors (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def drop_cursor(self, name: str) -> None:
        """Forget a consumer (e.g. post_api was removed from the config)."""
        self._db.execute("DELETE FROM cursors WHERE name = ?", (name,))

    # ---------------------------------------------------------------- bounds

    def prune(self) -> int:
        """Apply the age and count bounds now; returns how many items were removed."""
        self._since_prune = 0
        self._prune_seen()
        db = self._db
        limit_id = self._last_id - self.max_count  # ids <= this are beyond the count bound
        cutoff = self._now() - self.max_age
        # The log is in creation order, so old items are a prefix: walk it from the
        # oldest end only as far as it is too old (cost proportional to what is removed).
        row = db.execute(
            "SELECT event_id FROM log WHERE created >= ? ORDER BY event_id LIMIT 1", (cutoff,)
        ).fetchone()
        age_id = (row[0] - 1) if row else self._last_id
        upto = max(limit_id, age_id)
        if upto <= 0:
            return 0
        first = db.execute("SELECT min(event_id) FROM log").fetchone()[0]
        if first is None or first > upto:
            return 0
        floor = db.execute("SELECT min(value) FROM cursors").fetchone()[0]
        db.execute("BEGIN")
        try:
            removed = db.execute("DELETE FROM log WHERE event_id <= ?", (upto,)).rowcount
            undelivered = 0
            if floor is not None and floor < upto:
                undelivered = upto - max(floor, first - 1)
            self._bump("pruned_total", removed)
            self._bump("pruned_undelivered", undelivered)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if undelivered:
            log.warning(
                "event log bound reached: %d items up to event_id %d removed before"
                " delivery (max_age=%ss, max_count=%d); %d undelivered dropped so far",
                undelivered,
                upto,
                self.max_age,
                self.max_count,
                self._counters.get("pruned_undelivered", 0),
            )
        else:
            log.debug("event log pruned %d delivered items up to %d", removed, upto)
        return removed

    def _prune_seen(self) -> None:
        self._db.execute(
            "DELETE FROM seen WHERE seq <= (SELECT max(seq) FROM seen) - ?", (self.seen_max,)
        )

    def _bump(self, name: str, by: int) -> None:
        if not by:
            return
        value = self._counters.get(name, 0) + by
        self._counters[name] = value
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def statistics(self) -> EventLogStats:
        first, stored = self._db.execute("SELECT min(event_id), count(*) FROM log").fetchone()
        return EventLogStats(
            last_event_id=self._last_id,
            first_event_id=first,
            stored=stored,
            pruned_total=self._counters.get("pruned_total", 0),
            pruned_undelivered=self._counters.get("pruned_undelivered", 0),
            subscribers=len(self._subs),
            subscriber_drops=self._sub_drops,
        )


def event_log_path(data_dir: str | Path, account: str) -> Path:
    """Where an account's log lives: one file per account in its data folder."""
    return Path(data_dir) / f"events_{account}.sqlite3"


@contextmanager
def open_event_log(config: Any) -> Iterator[EventLog]:
    """Open the account's log as the config says (runtime.open_worker calls this).

    Reads `data_dir`, `account`, the bounds `outbox_max_age` / `outbox_max_count` and
    `seen_msg_id_max`.
    """
    path = event_log_path(config.data_dir, config.account)
    with EventLog.open(
        path,
        max_age=float(config.outbox_max_age),
        max_count=int(config.outbox_max_count),
        seen_max=config.seen_msg_id_max,
    ) as events:
        yield events
