"""post_api delivery: every item of the EventLog, in order, at least once.

One task follows the durable `EventLog` with a cursor and POSTs each item to
post_api (post_type receive_message / send_message / event, the Openwx JSON), then
saves the cursor. A failed POST (connection refused, timeout, a non-2xx status) is
retried with capped exponential backoff and jitter until it succeeds, and nothing
after it is posted before it: the webhook sees the log's order. Because the cursor is
saved after the webhook accepted an item, a killed worker re-posts at most the item
it was posting, with the same `event_id` (at-least-once; duplicates carry the same id).
Mojo::Weixin posted once and forgot (reference C.4); this is the fix.

What is posted (reference C.1): messages pass `post_message_filter`; events are posted
only when `post_event` is on and their name is in `post_event_list`. Media messages
get `media_data` (MIME base64, 76 columns, trailing newline: reference H keeps it) read
from `media_path` at post time when `post_media_data` is on, and lose it when it is off.

The webhook's answer to a receive_message may ask for a reply (`replies.py` parses
it, reference C.5); replies are sent by a second task so a slow send does not hold up
delivery. `post_secret` adds an HMAC signature (see `signing.py`). Redirects are
followed (7 hops, as Mojo::Weixin) by POSTing the same body again: httpx would turn a
301/302/303 into a body-less GET, and the item would be "accepted" empty.

`open_delivery(config, events, client)` starts delivery, post_stdout (reference C.7)
and poll_api (polling.py) in one call; runtime.open_worker uses it.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio
from msgspec import UNSET, UnsetType

from openwx_worker import models, signing
from openwx_worker.config import DEFAULT_POST_EVENT_LIST
from openwx_worker.events import EventLog, StoredItem
from openwx_worker.replies import ReplySender, may_ask_for_reply, parse_reply

log = logging.getLogger(__name__)

CURSOR_NAME = "post_api"
DEFAULT_EVENT_LIST = DEFAULT_POST_EVENT_LIST  # the API document's default list
# Mojo::Weixin's User-Agent for these posts (reference C.4); kept for webhooks that log it.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062"
)
_BATCH = 200
_MAX_REDIRECTS = 7
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
        """Read WorkerConfig; keys it does not have yet keep the defaults above."""
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
            connect_timeout=float(get("post_connect_timeout", d.connect_timeout)),
            request_timeout=float(get("post_timeout", d.request_timeout)),
            retry_base=float(get("post_retry_base", d.retry_base)),
            retry_max=float(get("post_retry_max", d.retry_max)),
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


def _decode(events: EventLog, stored: StoredItem) -> Any:
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
        item = _decode(events, stored)
        return item is None or passes_message_filter(options, item), item
    return True, None


async def report_body(
    options: DeliveryOptions, events: EventLog, stored: StoredItem, item: Any = None
) -> tuple[bytes, Any]:
    """The bytes to report for a stored item (and its model, if it had to be decoded)."""
    if stored.post_type != "event" and _MEDIA_MARK in stored.body:
        item = item or _decode(events, stored)
        if item is not None:
            return await render_report(item, post_media_data=options.post_media_data), item
    return stored.body, item


class DeliveryStats(msgspec.Struct, frozen=True):
    """`Delivery.statistics()`: for /healthz and the benchmark."""

    post_api: str | None
    cursor: int  # last event_id handled (posted or filtered out)
    backlog: int  # items published but not handled yet
    posted: int  # successful POSTs since start
    retries: int  # failed attempts since start
    last_error: str | None
    failing_since: float | None  # trio time of the first failure of the current streak


class Delivery:
    """Follows the log and POSTs to post_api. Run it with `nursery.start(delivery.run)`."""

    def __init__(
        self,
        options: DeliveryOptions,
        events: EventLog,
        *,
        http: httpx.AsyncClient,
        replies: ReplySender | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.events = events
        self._http = http
        self._url = httpx.URL(options.post_api or "")
        self._replies = replies
        self._rng = rng or random.Random()
        self._cursor = 0
        self._posted = 0
        self._retries = 0
        self._last_error: str | None = None
        self._failing_since: float | None = None
        self._advanced = trio.Event()

    async def wait_delivered(self, event_id: int) -> None:
        """Return once every item up to `event_id` is handled (posted or filtered out)."""
        while self._cursor < event_id:
            await self._advanced.wait()

    def statistics(self) -> DeliveryStats:
        return DeliveryStats(
            post_api=self.options.post_api,
            cursor=self._cursor,
            backlog=max(0, self.events.last_event_id - self._cursor),
            posted=self._posted,
            retries=self._retries,
            last_error=self._last_error,
            failing_since=self._failing_since,
        )

    def backoff(self, failures: int) -> float:
        """Delay before the next try after `failures` failures in a row: capped, jittered.

        The nominal delay doubles from `retry_base` up to `retry_max`; the actual delay is
        drawn from [nominal/2, nominal] so that many workers do not retry in step.
        """
        o = self.options
        nominal = min(o.retry_max, o.retry_base * (2 ** min(failures - 1, 30)))
        return nominal / 2 + self._rng.random() * nominal / 2

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver forever, from the saved cursor (or from this run's start)."""
        events = self.events
        saved = events.cursor(CURSOR_NAME)
        self._cursor = events.start_event_id if saved is None else saved
        events.set_cursor(CURSOR_NAME, self._cursor)
        log.info("post_api delivery to %s from event_id %d", self.options.post_api, self._cursor)
        task_status.started()
        while True:
            batch = events.read_raw_after(self._cursor, _BATCH)
            if not batch:
                await events.wait_after(self._cursor)
                continue
            for stored in batch:
                await self._handle_safely(stored)

    async def _handle_safely(self, stored: StoredItem) -> None:
        """`_handle`, but a bug or a bad row never ends delivery (nor the worker): it is
        logged and the same item is tried again after the backoff delay."""
        failures = 0
        while True:
            try:
                await self._handle(stored)
                return
            except Exception:
                failures += 1
                self._last_error = f"internal error on event_id {stored.event_id}"
                log.exception("delivery of event_id %d failed", stored.event_id)
                await trio.sleep(self.backoff(failures))

    async def _handle(self, stored: StoredItem) -> None:
        """Post one stored item (unless filtered out), save the cursor, queue a reply.

        The stored JSON is decoded only when something needs the fields (a message
        filter, media_data, a reply): most items are posted exactly as stored.
        """
        o = self.options
        wanted, item = select(o, self.events, stored)
        if wanted:
            body, item = await report_body(o, self.events, stored, item)
            response = await self._post_until_accepted(stored.event_id, body)
            self._posted += 1
        self._cursor = stored.event_id
        self.events.set_cursor(CURSOR_NAME, stored.event_id)
        self._advanced.set()
        self._advanced = trio.Event()
        is_message = stored.post_type != "event"
        if wanted and is_message and self._replies is not None and may_ask_for_reply(response):
            item = item or _decode(self.events, stored)
            request = None if item is None else parse_reply(
                item, response, own_sends=self._replies.own_sends)
            if request is not None:
                await self._replies.submit(request)

    async def _post_following_redirects(self, body: bytes, headers: dict) -> httpx.Response:
        """POST, following up to 7 redirects by POSTing the same body to each Location.

        httpx (like browsers) turns a POST into a body-less GET on 301/302/303; the
        webhook would then "accept" an empty request and the item would be lost.
        """
        url = self._url
        for _hop in range(_MAX_REDIRECTS):
            response = await self._http.post(url, content=body, headers=headers)
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return response
            url = url.join(location)
        return await self._http.post(url, content=body, headers=headers)

    async def _post_until_accepted(self, event_id: int, body: bytes) -> httpx.Response:
        """POST until a 2xx answer. Never gives up: the log holds the item meanwhile."""
        failures = 0
        while True:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                signing.EVENT_ID_HEADER: str(event_id),
            }
            if self.options.post_secret:
                headers.update(signing.sign(self.options.post_secret, body))
            try:
                response = await self._post_following_redirects(body, headers)
                if 200 <= response.status_code < 300:
                    if failures:
                        log.info("post_api accepts again after %d failures", failures)
                    self._last_error = None
                    self._failing_since = None
                    return response
                error = f"HTTP {response.status_code}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                error = f"{type(exc).__name__}: {exc}"
            failures += 1
            self._retries += 1
            self._last_error = error
            if self._failing_since is None:
                self._failing_since = trio.current_time()
            delay = self.backoff(failures)
            level = logging.WARNING if failures == 1 or failures % 10 == 0 else logging.DEBUG
            log.log(
                level,
                "post_api failed for event_id %d (%s), try %d, next in %.1fs",
                event_id,
                error,
                failures,
                delay,
            )
            await trio.sleep(delay)


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
                await trio.to_thread.run_sync(self._write, b"".join(lines))


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def make_http_client(options: DeliveryOptions) -> httpx.AsyncClient:
    """The HTTP client for post_api: reference C.4 timeouts. Redirects are followed by
    `Delivery` itself (7 hops, as Mojo::Weixin), keeping the POST and its body."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(options.request_timeout, connect=options.connect_timeout),
        follow_redirects=False,
    )


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
    from openwx_worker.polling import PollOptions, run_polling

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
