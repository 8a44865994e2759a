"""Contact operations: set_markname (+ legacy set_friend_markname), stick,
make_friend, accept_friend_request (reference A.11)."""

from __future__ import annotations

from openwx_worker.errors import ClientError
from openwx_worker.models import is_group_id

from . import codes
from .codes import ApiError, not_found
from .endpoint import Context, Endpoint
from .params import (
    AcceptFriendParams,
    MakeFriendParams,
    SetFriendMarknameParams,
    SetMarknameParams,
    StickParams,
)
from .replies import AcceptFriendReply, ErrorReply, StatusReply


async def set_markname(ctx: Context, p: SetMarknameParams) -> StatusReply:
    book = ctx.client.contacts
    if p.group_id is not None:
        if book.group(p.group_id) is None:
            raise not_found("group not found")
        found = book.first_member(p.group_id, id=p.id)
        if found is None:
            raise not_found()
        target = found[1].id
    else:
        friend = book.first_friend(**p.criteria())
        if friend is None:
            raise not_found()
        target = friend.id
    await ctx.client.set_remark(target, p.new_markname or "")
    return StatusReply()


async def set_friend_markname(ctx: Context, p: SetFriendMarknameParams) -> StatusReply:
    friend = ctx.client.contacts.first_friend(**p.criteria())
    if friend is None:
        raise not_found()
    await ctx.client.set_remark(friend.id, p.new_markname or "")
    return StatusReply()


async def stick(ctx: Context, p: StickParams) -> StatusReply:
    book = ctx.client.contacts
    target = None
    if p.id is not None:
        target = book.group(p.id) if is_group_id(p.id) else book.friend(p.id)
    if target is None:
        raise not_found()
    await ctx.client.stick(target.id, p.op == 1)
    return StatusReply()


async def make_friend(ctx: Context, p: MakeFriendParams) -> StatusReply:
    book = ctx.client.contacts
    if p.id is not None and p.id == book.self_id:
        raise ApiError(codes.REFUSED_TARGET, "can not be yourself")
    if p.id is not None and book.friend(p.id) is not None:
        raise ApiError(codes.REFUSED_TARGET, "already a friend")
    found = book.first_member(id=p.id) if p.id is not None else None
    if found is None:
        raise not_found()
    await ctx.client.add_friend(found[1].id, p.verify or "")
    return StatusReply()


async def accept_friend_request(ctx: Context, p: AcceptFriendParams) -> AcceptFriendReply:
    if not p.id or not p.ticket:
        raise ApiError(codes.BAD_PARAMETER, "id and ticket are required",
                       id=p.id, displayname=p.displayname, ticket=p.ticket)  # fmt: skip
    try:
        await ctx.client.accept_friend_request(p.id, p.ticket)
    except ClientError as exc:
        # Mojo::Weixin answered -1 (not 201) here; kept, with the reason added.
        raise ApiError(codes.SEND_FAILED, f"failure: {exc}",
                       id=p.id, displayname=p.displayname, ticket=p.ticket) from exc  # fmt: skip
    return AcceptFriendReply(id=p.id, displayname=p.displayname, ticket=p.ticket)


ENDPOINTS = [
    Endpoint("set_markname", set_markname, SetMarknameParams, (StatusReply, ErrorReply),
             "Set the remark name of a friend (or of a group member with group_id)",
             description="WeChat is believed to ignore remarks on group members."),
    Endpoint("set_friend_markname", set_friend_markname, SetFriendMarknameParams,
             (StatusReply, ErrorReply), "Legacy: set a friend's remark name"),
    Endpoint("stick", stick, StickParams, (StatusReply, ErrorReply),
             "Pin (op=1, default) or unpin (op=0) a friend or group chat"),
    Endpoint("make_friend", make_friend, MakeFriendParams, (StatusReply, ErrorReply),
             "Send a friend request to a group member",
             description="101: the id is yours or already a friend; 100: no such member."),
    Endpoint("accept_friend_request", accept_friend_request, AcceptFriendParams,
             (AcceptFriendReply, ErrorReply), "Accept a friend_request event",
             description="Failure answers code -1 (as Mojo::Weixin)."),
]  # fmt: skip
