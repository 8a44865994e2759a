"""The post_api outbox: every item of the EventLog, in order, at least once.

`Delivery` follows the durable `EventLog` with a saved cursor and POSTs each item
(post_type receive_message / send_message / event, the Openwx JSON) to post_api, then
saves the cursor. A failed POST (connection refused, timeout, a non-2xx status) is
retried with capped exponential backoff and jitter until it succeeds, and nothing
after it is posted before it: the webhook sees the log's order. Because the cursor is
saved after the webhook accepted an item, a killed worker re-posts at most the item
it was posting, with the same `event_id` (at-least-once; duplicates carry the same id).
Mojo::Weixin posted once and forgot (reference C.4); this is the fix.

Redirects are followed (7 hops, as Mojo::Weixin) by POSTing the same body again: httpx
would turn a 301/302/303 into a body-less GET, and the item would be "accepted" empty.
What is posted and how it looks (filters, media_data) is `delivery.py`'s; the webhook's
answer may ask for a reply (`webhook_replies.py`). `post_secret` signs each POST (`signing.py`).
"""

from __future__ import annotations

import logging
import random

import httpx
import msgspec
import trio

from openwx_worker import signing
from openwx_worker.delivery import DeliveryOptions, decode_stored, report_body, select
from openwx_worker.events import EventLog, StoredItem
from openwx_worker.post_transport import post_transport
from openwx_worker.webhook_replies import ReplySender, may_ask_for_reply, parse_reply

log = logging.getLogger(__name__)

CURSOR_NAME = "post_api"
# Mojo::Weixin's User-Agent for these posts (reference C.4); kept for webhooks that log it.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062"
)
_BATCH = 200
_MAX_REDIRECTS = 7


class DeliveryStats(msgspec.Struct, frozen=True):
    """`Delivery.statistics()`: for /healthz and the benchmark."""

    post_api: str | None  # without its query (it may hold a token)
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
        # for logs and statistics: the query may hold a token
        self._shown_url = str(self._url.copy_with(query=None)) if options.post_api else None
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
            post_api=self._shown_url,
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
        log.info("post_api delivery to %s from event_id %d", self._shown_url, self._cursor)
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
            item = item or decode_stored(self.events, stored)
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


def make_http_client(options: DeliveryOptions) -> httpx.AsyncClient:
    """The HTTP client for post_api: reference C.4 timeouts; the lean transport of
    post_transport.py for plain http. Redirects are followed by `Delivery` itself
    (7 hops, as Mojo::Weixin), keeping the POST and its body."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(options.request_timeout, connect=options.connect_timeout),
        follow_redirects=False,
        transport=post_transport(),
    )
