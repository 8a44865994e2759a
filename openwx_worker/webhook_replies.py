"""The reply protocol: the webhook answers a posted message, the worker sends the answer.

Reference C.5 and the API document (post_api section): when post_api answers a
`receive_message` report with a 2xx status, a JSON Content-Type (`text/json` or
`application/json`, charset allowed) and an object holding `reply` (text) and/or
`media` (an http(s) URL or a local path), the text and then the media go back to the
chat the message came from: a friend message to that friend, a group message to that
group. group_notice messages are never answered; other keys (`code`...) are ignored.

Differences from Mojo::Weixin, both from reference H.6:
* a local `media` path works (the document promises it), but only inside the folders
  local media reads are confined to (`config.allowed_media_dirs`);
* a `send_message` report may be answered with text (to the same chat) as before,
  except reports of messages that replies themselves produced (`from: "code"`, or the
  MsgID of a message this sender sent, which also catches WeChat's echo of it should
  the client report that echo): answering those looped forever.

Replies run in their own task (`ReplySender.run`) so that a slow send (WeChat pacing,
a media upload) does not hold up delivery of the next reports. They are at-most-once,
by decision (docs/internals.md, events): not persisted, so a worker killed between the
webhook's answer and the send loses that reply (the report itself was delivered, and
is not posted again), and one that finds the client logging in again is dropped with
a warning, since chat ids change with every login. Persisting them would trade a lost
reply for a reply sent twice or to a stale id; a webhook that needs certainty sends
through the API and reads its answer.

(Not to be confused with `api/replies.py`: the Structs of the HTTP API's own answers.)
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Container
from typing import Any

import httpx
import msgspec
import trio

from openwx_worker.errors import ClientError

log = logging.getLogger(__name__)

_JSON_TYPE = re.compile(r"^\s*(text|application)/json\s*(;|$)", re.IGNORECASE)
_OWN_SENDS_KEPT = 1000  # ids of reply-made sends remembered for the loop guard


class ReplyRequest(msgspec.Struct, frozen=True):
    """What to send back, and where: the parsed answer to one posted message."""

    chat_id: str
    text: str | None
    media: str | None
    event_id: int | None  # of the report that was answered (for logs)


def _text_value(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value != "":
        return value
    return None


def may_ask_for_reply(response: httpx.Response) -> bool:
    """A cheap first look: only a 2xx JSON answer with a non-empty object can ask."""
    return (
        200 <= response.status_code < 300
        and response.content not in (b"", b"{}")
        and _JSON_TYPE.match(response.headers.get("content-type", "")) is not None
    )


def parse_reply(
    item: Any, response: httpx.Response, *, own_sends: Container[str] = ()
) -> ReplyRequest | None:
    """The reply a webhook's answer asks for, or None (most answers ask for nothing)."""
    if not may_ask_for_reply(response):
        return None
    try:
        answer = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        log.info("post_api answer to event %s is not valid JSON; ignored", item.event_id)
        return None
    if not isinstance(answer, dict):
        return None
    text = _text_value(answer.get("reply"))
    media = answer.get("media") if isinstance(answer.get("media"), str) else None
    media = media or None
    if text is None and media is None:
        return None

    post_type = getattr(item, "post_type", "event")
    kind = getattr(item, "type", None)
    chat: Any = None
    if post_type == "receive_message":
        if kind == "group_message":
            chat = item.group_id
        elif kind == "friend_message":
            chat = item.sender_id
    elif post_type == "send_message":
        bare = str(item.id).split(":", 1)[0]  # "<MsgID>:<chat>" or a bare MsgID (echoes)
        if getattr(item, "from_", None) == "code" or item.id in own_sends or bare in own_sends:
            log.debug("no reply to report %s: it is itself a reply (H.6)", item.event_id)
            return None
        if getattr(item, "format", "text") not in ("text", "", None):
            return None
        media = None  # reference C.5: a send_message report accepts only `reply`
        if text is None:
            return None
        if kind == "group_message":
            chat = item.group_id
        elif kind == "friend_message":
            chat = item.receiver_id
    if not isinstance(chat, str) or not chat:
        return None
    return ReplyRequest(chat_id=chat, text=text, media=media, event_id=item.event_id)


MediaLoader = Callable[[str], Awaitable[Any]]


class ReplySender:
    """Sends parsed replies through the client, one at a time, in order.

    `load_media(spec)` turns a `media` value (URL or local path) into what
    `client.send_media` takes; by default media.py's loader with the config's
    allowed folders. A failed reply is logged; it never stops delivery.
    """

    def __init__(
        self,
        client: Any,
        config: Any = None,
        *,
        load_media: MediaLoader | None = None,
        max_pending: int = 100,
    ) -> None:
        self._client = client
        self._config = config
        self._load_media = load_media
        self._send, self._receive = trio.open_memory_channel[ReplyRequest](max_pending)
        self._own: deque[str] = deque(maxlen=_OWN_SENDS_KEPT)
        self._own_set: set[str] = set()
        self.sent = 0
        self.failed = 0

    @property
    def own_sends(self) -> Container[str]:
        """Ids of messages sent as replies (their send_message reports are not answered)."""
        return self._own_set

    async def submit(self, request: ReplyRequest) -> None:
        """Queue a reply (waits when `max_pending` replies are already queued)."""
        await self._send.send(request)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for request in self._receive:
            try:
                await self.send_reply(request)
            except Exception:  # a reply must never stop the worker
                self.failed += 1
                log.exception("reply for event %s failed", request.event_id)

    async def send_reply(self, request: ReplyRequest) -> None:
        """Send the text, then the media, of one reply; failures are logged and counted."""
        if request.text is not None:
            await self._attempt(request, "text", self._client.send_text, request.text)
        if request.media is not None:
            try:
                media = await self._media(request.media)
            except (ClientError, OSError, ValueError) as exc:
                self.failed += 1
                log.warning("reply media %r for event %s refused: %s",
                            request.media, request.event_id, exc)
                return
            await self._attempt(request, "media", self._client.send_media, media)

    async def _attempt(self, request: ReplyRequest, what: str, send: Any, payload: Any) -> None:
        try:
            result = await send(request.chat_id, payload, origin="code")
        except ClientError as exc:
            self.failed += 1
            log.warning("reply %s to %s (event %s) failed: %s",
                        what, request.chat_id, request.event_id, exc)
            return
        self.sent += 1
        self._remember(getattr(result, "id", None))
        self._remember(getattr(result, "msg_id", None))

    def _remember(self, msg_id: Any) -> None:
        if not isinstance(msg_id, str) or not msg_id:
            return
        if len(self._own) == self._own.maxlen:
            self._own_set.discard(self._own[0])
        self._own.append(msg_id)
        self._own_set.add(msg_id)

    async def _media(self, spec: str) -> Any:
        if self._load_media is not None:
            return await self._load_media(spec)
        from openwx_worker import media  # the protocol client's module (imports late:
        # it pulls in the protocol layer, which the delivery tests do not need)

        return await media.load_media(spec, self._config)
