"""check_event: the long-poll over the account's EventLog (reference A.13, C.6).

Without ``cursor`` it behaves as Mojo::Weixin's buffer: the last
``check_event_list_max_size`` (default 20) messages and buffered events since the
previous call are answered at once (and taken); when there are none, the request
is held up to 30 s and answers what arrives, or ``[]``. The buffer is a read
position in the EventLog owned by the app, so fixes H.4 come for free: several
waiters never get ``[null]`` (the first takes the items, the others keep waiting),
and a waiter whose HTTP client went away takes nothing, so nothing is lost.

What is buffered (as Mojo::Weixin): every message (after ``post_message_filter``)
and the events new_/lose_ friend, group, group_member, friend_request and the
``*_property_change`` ones, only when ``post_event`` is on and they are in
``post_event_list``. Items have exactly the JSON posted to post_api.

With ``cursor`` (an addition) the call is stateless: everything in the log after
that ``event_id`` (messages and every event, up to ``limit``), held like above when
there is nothing yet. A consumer that keeps the last ``event_id`` it saw misses
nothing across reconnects and worker restarts.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from openwx_worker.delivery import DeliveryOptions, report_body, select
from openwx_worker.models import Posted

from .endpoint import Context, Endpoint
from .params import CheckEventParams
from .wire import Response

BUFFERED_EVENTS = frozenset({
    "new_group", "new_friend", "new_group_member", "lose_group", "lose_friend",
    "lose_group_member", "friend_request", "group_property_change",
    "group_member_property_change", "friend_property_change", "user_property_change",
})  # fmt: skip
_BATCH = 500


class CheckEventBuffer:
    """The shared read position of cursor-less check_event calls."""

    def __init__(self) -> None:
        self.position: int | None = None  # last event_id taken (or skipped)

    def _start(self, events: Any) -> int:
        if self.position is None:
            self.position = events.start_event_id
        return self.position

    def collect(self, events: Any, options: DeliveryOptions, max_size: int) -> list[Any]:
        """Take the buffered items after the position (the newest ``max_size``)."""
        position = self._start(events)
        kept: deque[Any] = deque(maxlen=max_size)
        while True:
            batch = events.read_raw_after(position, _BATCH)
            if not batch:
                break
            for stored in batch:
                position = stored.event_id
                if _buffered(events, stored, options):
                    kept.append(stored)
        self.position = position
        return list(kept)


def _buffered(events: Any, stored: Any, options: DeliveryOptions) -> bool:
    """post_api's choice (delivery.select), minus the events Mojo::Weixin never buffered."""
    if stored.post_type == "event" and stored.name not in BUFFERED_EVENTS:
        return False
    return select(options, events, stored)[0]


async def _render(events: Any, items: list[Any], options: DeliveryOptions) -> bytes:
    """The JSON array of the items, each exactly as post_api carries it (media_data)."""
    parts = [(await report_body(options, events, stored))[0] for stored in items]
    return b"[" + b",".join(parts) + b"]"


async def check_event(ctx: Context, p: CheckEventParams) -> Response:
    events = ctx.events
    options = DeliveryOptions.from_config(ctx.config)
    if p.cursor is not None:
        cursor = min(p.cursor, events.last_event_id)  # ids from another log: start at now

        def take() -> list[Any]:
            return events.read_raw_after(cursor, p.limit)
    else:
        buffer: CheckEventBuffer = ctx.app.check_event
        max_size = getattr(ctx.config, "check_event_list_max_size", 20) or 20

        def take() -> list[Any]:
            return buffer.collect(events, options, max_size)

    items = take()
    if not items and p.timeout > 0:

        async def wait_for_items() -> list[Any]:
            found: list[Any] = []
            while not found:
                await events.wait_after(events.last_event_id)
                found = take()
            return found

        items = await ctx.hold(p.timeout, wait_for_items) or []
    return Response(200, await _render(events, items, options))


ENDPOINTS = [
    Endpoint("check_event", check_event, CheckEventParams, (list[Posted],),
             "Long-poll for messages and events", needs_running=False,
             description=__doc__ or ""),
]  # fmt: skip
