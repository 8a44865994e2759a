"""Sending: send_friend_message, send_group_message, revoke_message, upload_media.

Answers follow the API document (``{"status":"发送成功","msg_id":...,"code":0}``,
media sends add ``media_id``) plus Mojo::Weixin's ``id`` = ``"<MsgID>:<chat>"``
(reference A.5). Fixes of reference H.3: text *and* media in one request give one
answer covering both (Mojo::Weixin answered whichever finished first), and a
request with neither is a 400 answer instead of a hang. ``async=1`` and
``id=@all`` answer at once; the sends then go through the client's paced queue
in the app's nursery. A failed send answers WeChat's ``Ret`` as ``code`` (or -1)
with ``发送失败: <reason>``.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from openwx_worker import errors
from openwx_worker.media import UploadedMedia

from . import codes
from .codes import ApiError, not_found
from .endpoint import Context, Endpoint
from .errormap import client_error
from .media_input import remember_upload, resolve_media, wants_media
from .params import RevokeParams, SendFriendParams, SendGroupParams, UploadParams, truthy
from .replies import (
    SEND_FAILED,
    BroadcastReply,
    ErrorReply,
    MediaSendReply,
    QueuedReply,
    RevokeReply,
    SendReply,
    UploadReply,
)

log = logging.getLogger("openwx_worker.api")
_REVOKE_SCAN = 2000  # recent log items searched for a bare msg_id sent before a restart


def send_failure(exc: errors.ClientError, *, media: bool = False) -> ApiError:
    """A failed send: WeChat's Ret as code (or -1), Mojo's local id as ``id``."""
    if isinstance(exc, errors.NotRunning | errors.Stopped | errors.NotFound
                  | errors.InvalidArgument):  # fmt: skip
        return client_error(exc)
    code = exc.ret if isinstance(exc, errors.WeChatError) else codes.SEND_FAILED
    reason = getattr(exc, "message", "") or str(exc) or "unknown error"
    extra: dict[str, Any] = {"id": getattr(exc, "local_id", None), "msg_id": None}
    if media:
        extra["media_id"] = ""
    return ApiError(code, f"{SEND_FAILED}: {reason}", **extra)


async def deliver(ctx: Context, chat_id: str, p: Any) -> SendReply | MediaSendReply:
    """Send the request's text, then its media, to one chat; one answer for both.

    The media is read (and checked) before the text goes out, so a refused or
    unreadable media_path fails the request without a half-sent message.
    """
    client = ctx.client
    media = await resolve_media(ctx, p) if wants_media(ctx, p) else None
    text = None
    if p.content:
        try:
            text = await client.send_text(chat_id, p.content)
        except errors.ClientError as exc:
            raise send_failure(exc) from exc
        ctx.app.sent.remember(text.msg_id, chat_id)
    if media is None:
        assert text is not None
        return SendReply(msg_id=text.msg_id, id=text.id)
    try:
        result = await client.send_media(chat_id, media)
    except errors.ClientError as exc:
        raise send_failure(exc, media=True) from exc
    ctx.app.sent.remember(result.msg_id, chat_id)
    uploaded = result.media if result.media is not None else media
    media_id = uploaded.api_id if isinstance(uploaded, UploadedMedia) else ""
    if isinstance(uploaded, UploadedMedia):
        remember_upload(ctx, uploaded)
    return MediaSendReply(
        msg_id=result.msg_id, id=result.id, media_id=media_id,
        text_msg_id=text.msg_id if text else None, text_id=text.id if text else None,
    )  # fmt: skip


def _require_something(ctx: Context, p: Any) -> None:
    if not p.content and not wants_media(ctx, p):
        raise ApiError(codes.BAD_PARAMETER, "nothing to send: give content or media")


async def _in_background(ctx: Context, chat_ids: list[str], p: Any) -> None:
    """The sends of an async or broadcast request; each failure is logged, none stops it."""
    if wants_media(ctx, p) and len(chat_ids) > 1:  # upload once, reuse for every chat
        media = await resolve_media(ctx, p)
        if not isinstance(media, UploadedMedia):
            media = await ctx.client.upload_media(media)
            remember_upload(ctx, media)
        p = _with_media_id(p, media.api_id)
    for chat_id in chat_ids:
        try:
            await deliver(ctx, chat_id, p)
        except ApiError as exc:
            log.warning("background send to %s failed: %s %s", chat_id, exc.code, exc.status)


def _with_media_id(p: Any, media_id: str) -> Any:
    return msgspec.structs.replace(p, media_id=media_id, media_path=None, media_data=None)


async def _send(ctx: Context, chat_id: str, p: Any) -> Any:
    if truthy(p.async_):
        ctx.app.spawn(_in_background, ctx, [chat_id], p, name=f"async send to {chat_id}")
        return QueuedReply()
    return await deliver(ctx, chat_id, p)


async def send_friend_message(ctx: Context, p: Any) -> Any:
    _require_something(ctx, p)
    book = ctx.client.contacts
    if p.id == "@all":
        friends = [f.id for f in book.friends]
        ctx.app.spawn(_in_background, ctx, friends, p, name="broadcast")
        return BroadcastReply(count=len(friends))
    friend = book.first_friend(**p.criteria())
    if friend is None:
        raise not_found(id=None)
    return await _send(ctx, friend.id, p)


async def send_group_message(ctx: Context, p: Any) -> Any:
    _require_something(ctx, p)
    group = ctx.client.contacts.first_group(**p.criteria())
    if group is None:
        raise not_found(id=None)
    return await _send(ctx, group.id, p)


def _chat_from_log(ctx: Context, msg_id: str) -> str | None:
    """The chat of a message we sent (before a restart, or from the phone), from the log."""
    events = ctx.events
    needle = f'"id":"{msg_id}:'.encode()
    start = max(0, events.last_event_id - _REVOKE_SCAN)
    for stored in reversed(events.read_raw_after(start, _REVOKE_SCAN)):
        if stored.post_type == "send_message" and needle in stored.body:
            item = events.decode(stored.body)
            return str(item.id).partition(":")[2] or None
    return None


async def revoke_message(ctx: Context, p: RevokeParams) -> RevokeReply:
    given = p.id or p.msg_id
    if not given:
        raise ApiError(codes.SEND_FAILED, "msg id not found", id=None)
    found = ctx.app.sent.resolve(given)
    if found is None:
        chat = _chat_from_log(ctx, given)
        found = (given, chat) if chat else None
    if found is None:
        raise ApiError(codes.SEND_FAILED, "msg id not found", id=given)
    msg_id, chat_id = found
    try:
        await ctx.client.revoke(msg_id, chat_id)
    except (errors.WeChatError, errors.InvalidArgument, errors.NotFound) as exc:
        # Mojo::Weixin kept code 0 here; the status text is unchanged for clients that
        # test it, and the code now says it failed.
        raise ApiError(codes.FAILURE, "revoke failure", id=given, reason=str(exc)) from exc
    return RevokeReply(id=given, status="revoke success")


async def upload_media(ctx: Context, p: Any) -> UploadReply:
    if not wants_media(ctx, p):
        raise ApiError(codes.BAD_PARAMETER, "nothing to upload: give media_path or a file")
    media = await resolve_media(ctx, p)
    if not isinstance(media, UploadedMedia):
        media = await ctx.client.upload_media(media)
    remember_upload(ctx, media)
    return UploadReply(
        media_id=media.api_id, media_code=media.media_code, media_type=media.media_type,
        media_path=media.path, media_name=media.name, media_size=media.size,
        media_mime=media.mime, media_mtime=media.mtime, media_ext=media.ext,
    )  # fmt: skip


_SEND_DOC = (
    "Look-up: all given criteria must match; the first match gets the message. Give "
    "content, media (media_id, media_path or a multipart file part) or both: both are "
    "sent, text first, and answered once. async=1 answers at once (code 0, 'request "
    "already in execution')."
)

ENDPOINTS = [
    Endpoint("send_friend_message", send_friend_message, SendFriendParams,
             (SendReply, MediaSendReply, QueuedReply, BroadcastReply, ErrorReply),
             "Send text and/or media to a friend (id=@all: to every friend)",
             description=_SEND_DOC + " id=@all queues one send per friend and answers at once."),
    Endpoint("send_group_message", send_group_message, SendGroupParams,
             (SendReply, MediaSendReply, QueuedReply, ErrorReply),
             "Send text and/or media to a group", description=_SEND_DOC),
    Endpoint("revoke_message", revoke_message, RevokeParams, (RevokeReply, ErrorReply),
             "Recall a message this account sent (within 2 minutes)",
             description="id: the msg_id a send answered, or its id (MsgID:receiver). "
             "Failure: code 201, status 'revoke failure', reason."),
    Endpoint("upload_media", upload_media, UploadParams, (UploadReply, ErrorReply),
             "Upload media once; send its media_id later without re-uploading"),
]  # fmt: skip
