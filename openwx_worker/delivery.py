"""post_api reporting: what is reported and how it looks, and the one call that runs it.

What is reported (reference C.1): messages pass `post_message_filter`; events only
when `post_event` is on and their name is in `post_event_list` (the API document's
default list). Media messages get `media_data` (MIME base64, 76 columns, trailing
newline: reference H keeps it) read from `media_path` when the report is made if
`post_media_data` is on, and lose it when it is off. check_event (api/event_api.py)
uses the same functions, so both carry exactly the same JSON.

`open_delivery(config, events, client)` runs, in one nursery and with one call from
runtime.open_worker: the post_api outbox (`outbox.Delivery`: ordered, at-least-once,
retried, resumed after restarts) with the reply protocol (`webhook_replies.py`), post_stdout
(`StdoutReporter`, reference C.7) and poll_api (`polling.py`).
"""

from __future__ import annotations

import base64
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from msgspec import UNSET, UnsetType

from openwx_worker import models
from openwx_worker.config import DEFAULT_POST_EVENT_LIST
from openwx_worker.events import EventLog, StoredItem

if TYPE_CHECKING:
    from openwx_worker.outbox import Delivery

log = logging.getLogger(__name__)

DEFAULT_EVENT_LIST = DEFAULT_POST_EVENT_LIST  # the API document's default list
_BATCH = 200
# In the stored (compact, sorted-key) JSON this can only be the format field: inside a
# JSON string the quotes would be escaped.
_MEDIA_MARK = b'"format":"media"'


class DeliveryOptions(msgspec.Struct, frozen=True):
    """The delivery-related settings, taken from WorkerConfig in one place (`from_config`)."""

    post_api: str | None = None
    post_event: bool = True
    post_event_list: tuple[str, ...] = DEFAULT_EVENT_LIST
    post_media_data: bool = True
    post_message_filter: dict[str, Any] | None = None
    post_secret: str | None = None
    connect_timeout: float = 10.0  # reference C.4
    request_timeout: float = 35.0
    retry_base: float = 0.5  # first retry delay, seconds; doubles per failure
    retry_max: float = 60.0  # the cap of the backoff

    @classmethod
    def from_config(cls, config: Any) -> DeliveryOptions:
        """Read the delivery keys of a WorkerConfig."""
        d = cls()

        def get(name: str, default: Any) -> Any:
            value = getattr(config, name, None)
            return default if value is None else value

        events = get("post_event_list", d.post_event_list)
        if isinstance(events, str):
            events = [e.strip() for e in events.split(",") if e.strip()]
        return cls(
            post_api=get("post_api", None) or None,
            post_event=bool(get("post_event", d.post_event)),
            post_event_list=tuple(events),
            post_media_data=bool(get("post_media_data", d.post_media_data)),
            post_message_filter=get("post_message_filter", None) or None,
            post_secret=get("post_secret", None) or None,
            connect_timeout=config.post_connect_timeout,
            request_timeout=config.post_timeout,
            retry_base=config.post_retry_base,
            retry_max=config.post_retry_max,
        )


def wants_event(options: DeliveryOptions, name: str) -> bool:
    """Whether an event of this name is reported at all (post_event, post_event_list)."""
    return options.post_event and name in options.post_event_list


def passes_message_filter(options: DeliveryOptions, item: Any) -> bool:
    """post_message_filter: a message that HAS one of the keys with another value is dropped."""
    rules = options.post_message_filter
    if not rules:
        return True
    fields = msgspec.to_builtins(item)  # the JSON names ("class", "from"); absent keys omitted
    for key, value in rules.items():
        have = fields.get(key)
        if have is not None and str(have) != str(value):
            return False
    return True


def mime_base64(data: bytes) -> str:
    """Base64 with a newline after every 76 characters and at the end (reference C.2, H)."""
    return base64.encodebytes(data).decode("ascii")


async def render_report(item: Any, *, post_media_data: bool) -> bytes:
    """The JSON body of one report: the item itself, with media_data filled or removed.

    Media bytes are read here (in a thread: it is file I/O) rather than stored in the
    log, so the log stays small; a file that is gone is reported without media_data.
    """
    if getattr(item, "format", None) != "media":
        return models.encode(item)
    data: str | UnsetType = UNSET
    path = getattr(item, "media_path", None)
    if post_media_data and path and os.path.isabs(path):  # not a URL, not "non-exist-path"
        try:
            raw = await trio.to_thread.run_sync(Path(path).read_bytes)
            data = mime_base64(raw)
        except OSError as exc:
            log.warning("media_data for event %s not read: %s", item.event_id, exc)
    return models.encode(msgspec.structs.replace(item, media_data=data))


def decode_stored(events: EventLog, stored: StoredItem) -> Any:
    """The stored item's model, or None if the row no longer decodes (e.g. written by
    another version): such an item is reported exactly as stored, never dropped."""
    try:
        return events.decode(stored.body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.error("event_id %d does not decode (%s); reported as stored", stored.event_id, exc)
        return None


def select(options: DeliveryOptions, events: EventLog, stored: StoredItem) -> tuple[bool, Any]:
    """Whether a stored item is reported; also its decoded model if deciding needed it."""
    if stored.post_type == "event":
        return wants_event(options, stored.name), None
    if options.post_message_filter:
        item = decode_stored(events, stored)
        return item is None or passes_message_filter(options, item), item
    return True, None


async def report_body(
    options: DeliveryOptions, events: EventLog, stored: StoredItem, item: Any = None
) -> tuple[bytes, Any]:
    """The bytes to report for a stored item (and its model, if it had to be decoded)."""
    if stored.post_type != "event" and _MEDIA_MARK in stored.body:
        item = item or decode_stored(events, stored)
        if item is not None:
            return await render_report(item, post_media_data=options.post_media_data), item
    return stored.body, item


class StdoutReporter:
    """post_stdout (reference C.7): every report also as one compact JSON line on stdout.

    A live view from this run's start (no saved cursor). Lines are written in a
    thread, a batch at a time, because a pipe whose reader is slow would block.
    """

    def __init__(
        self,
        options: DeliveryOptions,
        events: EventLog,
        write: Callable[[bytes], None] | None = None,
    ) -> None:
        self.options = options
        self.events = events
        self._write = write or _write_stdout

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        cursor = self.events.start_event_id
        task_status.started()
        while True:
            batch = self.events.read_raw_after(cursor, _BATCH)
            if not batch:
                await self.events.wait_after(cursor)
                continue
            lines = []
            for stored in batch:
                cursor = stored.event_id
                wanted, item = select(self.options, self.events, stored)
                if wanted:
                    body, _ = await report_body(self.options, self.events, stored, item)
                    lines.append(body + b"\n")  # compact JSON has no raw newline
            if lines:
                try:
                    await trio.to_thread.run_sync(self._write, b"".join(lines))
                except OSError as exc:  # stdout closed (EPIPE): nobody is reading any more
                    log.error("post_stdout stopped: %s", exc)
                    return


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@asynccontextmanager
async def open_delivery(
    config: Any,
    events: EventLog,
    client: Any = None,
    *,
    local_api: str | None = None,
    access_token: str | None = None,
) -> AsyncIterator[Delivery | None]:
    """Run post_api delivery (with replies through `client`), post_stdout and poll_api.

    `local_api` is the worker's own API base URL (`http://127.0.0.1:PORT`), where
    poll_api's 302 tunnel calls land. Yields the Delivery (None without post_api).
    Without post_api the saved cursor is forgotten so that it stops holding back
    pruning.
    """
    # (imported here: both import this module's report functions)
    from openwx_worker.outbox import CURSOR_NAME, Delivery, make_http_client
    from openwx_worker.polling import PollOptions, run_polling
    from openwx_worker.webhook_replies import ReplySender

    options = DeliveryOptions.from_config(config)
    poll = PollOptions.from_config(config)
    async with trio.open_nursery() as nursery:
        delivery: Delivery | None = None
        http = make_http_client(options)
        try:
            if options.post_api:
                replies = None
                if client is not None:
                    replies = ReplySender(client, config)
                    await nursery.start(replies.run)
                delivery = Delivery(options, events, http=http, replies=replies)
                await nursery.start(delivery.run)
            else:
                events.drop_cursor(CURSOR_NAME)
            if getattr(config, "post_stdout", False):
                await nursery.start(StdoutReporter(options, events).run)
            if poll.poll_api and local_api:
                await nursery.start(
                    run_polling, poll, events, client, local_api, access_token
                )
            yield delivery
            nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await http.aclose()
