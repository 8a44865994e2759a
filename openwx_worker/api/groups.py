"""Group operations: create_group, invite_friend, kick_group_member, set_group_displayname.

Validation and answers follow reference A.10 (codes 100 / 200 / 201; a refused
create_group also carries Mojo::Weixin's ``"id": null``), with the fix
of H.1: a missing or empty ``new_displayname`` is a 400 answer, where Mojo::Weixin
exited the whole worker.
"""

from __future__ import annotations

from typing import Any

from openwx_worker.errors import ClientError
from openwx_worker.models import Group

from . import codes
from .codes import ApiError, not_found
from .endpoint import Context, Endpoint
from .errormap import client_error
from .params import (
    CreateGroupParams,
    GroupLookup,
    InviteParams,
    KickParams,
    RenameGroupParams,
    split_ids,
)
from .replies import CreateGroupReply, ErrorReply, StatusReply


def find_group(book: Any, params: GroupLookup) -> Group:
    group = book.first_group(**params.criteria())
    if group is None:
        raise not_found()
    return group


def _friend_ids(book: Any, value: str | None) -> list[str]:
    ids = split_ids(value)
    if not ids:
        raise ApiError(codes.EMPTY_LIST, "friend id empty")
    for friend_id in ids:
        if book.friend(friend_id) is None:
            raise not_found(f"friend id {friend_id} not found")
    return ids


async def create_group(ctx: Context, p: CreateGroupParams) -> CreateGroupReply:
    ids = _friend_ids(ctx.client.contacts, p.friends)
    try:
        group = await ctx.client.create_group(ids, p.displayname or None)
    except ClientError as exc:
        err = client_error(exc)
        if err.code == codes.FAILURE:  # Mojo::Weixin: {"code":201,"id":null,"status":...}
            err.extra.setdefault("id", None)
        raise err from exc
    return CreateGroupReply(group_id=group.id)


async def invite_friend(ctx: Context, p: InviteParams) -> StatusReply:
    book = ctx.client.contacts
    group = find_group(book, p)
    ids = _friend_ids(book, p.friends)
    await ctx.client.invite_members(group.id, ids)
    return StatusReply()


async def kick_group_member(ctx: Context, p: KickParams) -> StatusReply:
    book = ctx.client.contacts
    group = find_group(book, p)
    ids = split_ids(p.members)
    if not ids:
        raise ApiError(codes.EMPTY_LIST, "member id empty")
    for member_id in ids:
        if book.member(group.id, member_id) is None:
            raise not_found(f"member id {member_id} not found")
    await ctx.client.kick_members(group.id, ids)
    return StatusReply()


async def set_group_displayname(ctx: Context, p: RenameGroupParams) -> StatusReply:
    group = find_group(ctx.client.contacts, p)
    if not p.new_displayname:
        raise ApiError(codes.BAD_PARAMETER, "new_displayname is required")
    await ctx.client.rename_group(group.id, p.new_displayname)
    return StatusReply()


_FAILS = "Failures: 100 not found, 200 empty list, 201 WeChat refused (status says why)."

ENDPOINTS = [
    Endpoint("create_group", create_group, CreateGroupParams, (CreateGroupReply, ErrorReply),
             "Create a group with some friends", description=_FAILS),
    Endpoint("invite_friend", invite_friend, InviteParams, (StatusReply, ErrorReply),
             "Add friends to a group", description=_FAILS),
    Endpoint("kick_group_member", kick_group_member, KickParams, (StatusReply, ErrorReply),
             "Remove members from a group", description=_FAILS),
    Endpoint("set_group_displayname", set_group_displayname, RenameGroupParams,
             (StatusReply, ErrorReply), "Rename a group",
             description="new_displayname is required (400 when missing or empty)."),
]  # fmt: skip
