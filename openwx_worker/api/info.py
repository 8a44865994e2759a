"""Reading the account: get_*_info, search_friend, search_group, get_avatar.

All of these read the client's in-memory ContactBook (reference 0.1: the API
never fetches contacts from WeChat); only get_avatar asks WeChat, for the image.
Look-ups follow reference 0.1 exactly: the criteria an endpoint supports, AND,
exact match, and "object not found" (code 100) when nothing matches or no
criterion was given.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

import msgspec
import trio

from openwx_worker.errors import ClientError
from openwx_worker.models import Friend, Group, User, is_group_id

from . import codes
from .codes import ApiError, not_found
from .endpoint import Context, Endpoint
from .params import AvatarParams, NoParams, SearchFriendParams, SearchGroupParams
from .replies import ErrorReply
from .wire import Response

AVATAR_TIMEOUT = 10.0  # seconds; Mojo::Weixin gave up after 3 s with an empty 503


def _book(ctx: Context) -> Any:
    return ctx.client.contacts


async def get_user_info(ctx: Context, _: NoParams) -> User:
    user = _book(ctx).user
    if user is None:
        raise not_found("user not loaded yet")
    return user


async def get_friend_info(ctx: Context, _: NoParams) -> list[Friend]:
    return _book(ctx).friends


async def get_group_info(ctx: Context, _: NoParams) -> list[Group]:
    return _book(ctx).groups


async def get_group_basic_info(ctx: Context, _: NoParams) -> list[Group]:
    return [group.without_members() for group in _book(ctx).groups]


def _criteria(params: msgspec.Struct) -> dict[str, str]:
    return {k: v for k, v in msgspec.structs.asdict(params).items() if v is not None}


async def search_friend(ctx: Context, params: SearchFriendParams) -> list[Friend]:
    found = _book(ctx).find_friends(**_criteria(params))
    if not found:
        raise not_found()
    return found


async def search_group(ctx: Context, params: SearchGroupParams) -> list[Group]:
    found = _book(ctx).find_groups(**_criteria(params))
    if not found:
        raise not_found()
    return found


# --------------------------------------------------------------------------- avatar


def _avatar_target(book: Any, p: AvatarParams) -> tuple[str, str | None]:
    """(contact id, group id for a member) by the rules of reference A.12."""
    user = book.user
    if p.id is not None and user is not None and p.id == user.id:
        return user.id, None
    if p.id is not None and is_group_id(p.id):
        group = book.first_group(id=p.id, displayname=p.displayname)
        if group is not None:
            return group.id, None
    elif p.group_id is not None and p.id is not None:
        found = book.first_member(p.group_id, id=p.id)
        if found is not None:
            return found[1].id, found[0].id
    else:
        friend = book.first_friend(**p.criteria())
        if friend is not None:
            return friend.id, None
    raise not_found(id=None)


def image_type(data: bytes, declared: str) -> str:
    """The Content-Type of an avatar: sniffed, else WeChat's, else ``image/jpg`` (Mojo)."""
    if data.startswith(b"GIF8"):
        return "image/gif"
    if data.startswith((b"\x89PNG", b"PNG")):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpg"  # the non-standard name Mojo::Weixin and the API document use
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    declared = declared.split(";", 1)[0].strip()
    return declared if declared.startswith("image/") else "image/jpg"


async def get_avatar(ctx: Context, params: AvatarParams) -> Response:
    contact_id, group_id = _avatar_target(_book(ctx), params)
    try:
        with trio.fail_after(AVATAR_TIMEOUT):
            if group_id is not None:
                data, declared = await ctx.client.get_avatar(contact_id, group_id=group_id)
            else:
                data, declared = await ctx.client.get_avatar(contact_id)
    except trio.TooSlowError:
        raise ApiError(codes.MEDIA_UNAVAILABLE, "avatar not available: WeChat too slow") from None
    except ClientError as exc:
        raise ApiError(codes.MEDIA_UNAVAILABLE, f"avatar not available: {exc}") from exc
    if not data:
        raise ApiError(codes.MEDIA_UNAVAILABLE, "avatar not available: empty image")
    now = time.time()
    return Response(
        200,
        bytes(data),
        content_type=image_type(data, declared or "").encode(),
        headers=[  # as Mojo::Weixin (reference A.12): cacheable for an hour
            (b"cache-control", b"max-age=3600"),
            (b"expires", formatdate(now + 3600, usegmt=True).encode()),
            (b"last-modified", formatdate(now, usegmt=True).encode()),
        ],
    )


_AVATAR_DOC = (
    "Image bytes (Content-Type image/jpg, image/png or image/gif). Look-up: id equal to "
    "your own id -> you; a group id -> that group (and displayname); group_id + id -> "
    "that group's member; else a friend by id/account/displayname/markname. Errors are "
    "JSON (code 100 not found, 411 avatar not available)."
)

ENDPOINTS = [
    Endpoint("get_user_info", get_user_info, NoParams, (User,), "The logged-in user"),
    Endpoint("get_friend_info", get_friend_info, NoParams, (list[Friend],), "Every friend"),
    Endpoint("get_group_info", get_group_info, NoParams, (list[Group],),
             "Every group, with its members"),
    Endpoint("get_group_basic_info", get_group_basic_info, NoParams, (list[Group],),
             "Every group, without the member lists"),
    Endpoint("search_friend", search_friend, SearchFriendParams, (list[Friend], ErrorReply),
             "Friends matching every given attribute",
             description="Exact, case-sensitive matches; all given attributes must match; "
             "every match is returned. Nothing matched or no attribute given: code 100."),
    Endpoint("search_group", search_group, SearchGroupParams, (list[Group], ErrorReply),
             "Groups matching every given attribute",
             description="As search_friend; member is not a criterion."),
    Endpoint("get_avatar", get_avatar, AvatarParams, (ErrorReply,),
             "The avatar image of the user, a friend, a group or a member",
             description=_AVATAR_DOC, content_type="image/*"),
]  # fmt: skip
