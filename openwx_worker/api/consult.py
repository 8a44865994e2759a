"""consult: send to a friend, answer with that friend's next message (reference A.9).

Built to relay Microsoft XiaoIce. Fixes of reference H.2: the wait ends only on a
message *from that friend* (Mojo::Weixin's timer was cancelled by any incoming
message, after which the request never got its timeout answer), ``timeout`` is
honoured however long it is (no 15 s idle cut), and the answer carries the send's
``code`` 0 and ``status`` (Mojo::Weixin answered null). Media is sent and waited on
like text (Mojo::Weixin returned without waiting). The wait reads the account's
EventLog from the position it had *before* sending, so a reply that comes back
instantly is not missed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from openwx_worker.models import ReceiveMessage

from . import codes
from .codes import ApiError, not_found
from .endpoint import Context, Endpoint
from .media_input import wants_media
from .params import ConsultParams
from .replies import ConsultReply, ConsultTimeoutReply, ErrorReply, MediaSendReply, SendReply
from .send import deliver


async def next_message_from(events: Any, friend_id: str, cursor: int) -> ReceiveMessage:
    """The first friend_message from ``friend_id`` in the log after ``cursor``.

    Read from the durable log rather than a subscription, so a burst of other
    traffic while we wait can never push the reply out of a bounded buffer.
    """
    while True:
        for stored in events.read_raw_after(cursor, 500):
            cursor = stored.event_id
            if stored.post_type == "receive_message" and stored.name == "friend_message":
                item = events.decode(stored.body)
                if item.sender_id == friend_id:
                    return item
        await events.wait_after(cursor)


async def consult(ctx: Context, p: Any) -> ConsultReply | ConsultTimeoutReply:
    if not p.content and not wants_media(ctx, p):
        raise ApiError(codes.BAD_PARAMETER, "nothing to send: give content or media")
    friend = ctx.client.contacts.first_friend(**p.criteria())
    if friend is None:
        raise not_found(id=None)
    events = ctx.events
    cursor = events.last_event_id  # before sending: an instant reply is not missed
    sent: SendReply | MediaSendReply = await deliver(ctx, friend.id, p)
    reply = await ctx.hold(p.timeout, partial(next_message_from, events, friend.id, cursor))
    if reply is None:
        return ConsultTimeoutReply(msg_id=sent.msg_id, id=sent.id)
    return ConsultReply(reply=reply.content, msg_id=sent.msg_id, id=str(reply.id))


ENDPOINT = Endpoint(
    "consult", consult, ConsultParams, (ConsultReply, ConsultTimeoutReply, ErrorReply),
    "Send to a friend and answer with that friend's next message",
    description="Waits up to timeout seconds (default 30) for a message from that friend. "
    "Timeout: reply null, reply_status 'reply timeout', code 0. id is the reply's message id, "
    "msg_id the id of the message sent.",
)
