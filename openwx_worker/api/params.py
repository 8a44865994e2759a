"""One msgspec Struct per endpoint: the parameters it reads.

Every request's parameters arrive as a dict of strings (query, form or JSON body,
see ``wire.py``) and are converted with ``msgspec.convert(..., strict=False)``, so
``timeout=10`` becomes a float and ``op=0`` an int, while a bad value gives a clear
``400`` answer naming the parameter. Unknown keys are ignored (Mojo::Weixin crashed
with a 500 on them in search_*, reference H.5). These Structs also generate the
parameter lists of ``/openapi.json``: a field's ``description`` is its documentation.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta

from .codes import bad_parameter


def _s(description: str) -> type:
    """An optional string parameter with its documentation.

    Used inside annotations (``id: _s("...") = None``): msgspec evaluates the
    annotation in this module, so the description reaches ``/openapi.json``.
    """
    return Annotated[str | None, Meta(description=description)]  # type: ignore[return-value]


class Params(msgspec.Struct, kw_only=True):
    """Base of every endpoint's parameters; unknown keys are ignored."""


P = TypeVar("P", bound=Params)


class NoParams(Params):
    """The endpoint reads no parameters."""


# --------------------------------------------------------------------------- look-ups


class FriendLookup(Params):
    """Friend look-up criteria: all given ones must match exactly (reference 0.1)."""

    id: _s("the friend's id (@... for this login session)") = None
    account: _s("the friend's WeChat account (alias)") = None
    displayname: _s("the friend's display name") = None
    markname: _s("the friend's remark name") = None

    def criteria(self) -> dict[str, str]:
        return given(self, ("id", "account", "displayname", "markname"))


class GroupLookup(Params):
    """Group look-up by ``id`` and/or ``displayname``."""

    id: _s("the group's id (@@...)") = None
    displayname: _s("the group's display name") = None

    def criteria(self) -> dict[str, str]:
        return given(self, ("id", "displayname"))


def given(params: Params, names: tuple[str, ...]) -> dict[str, str]:
    """The named parameters that were present (absent criteria are dropped, ref. 0.1)."""
    out = {}
    for name in names:
        value = getattr(params, name)
        if value is not None:
            out[name] = value
    return out


class SearchFriendParams(Params):
    """Any friend attribute is a criterion (AND, exact match); every match is returned."""

    id: _s("friend id") = None
    uid: _s("uid (always empty for friends)") = None
    name: _s("nickname") = None
    account: _s("account (alias)") = None
    markname: _s("remark name") = None
    displayname: _s("display name") = None
    province: _s("province") = None
    city: _s("city") = None
    signature: _s("signature") = None
    sex: _s("male, female or empty") = None
    display: _s("display") = None
    category: _s("好友, 公众号 or 系统帐号") = None


class SearchGroupParams(Params):
    """Any group attribute except ``member`` is a criterion (AND, exact match)."""

    id: _s("group id") = None
    uid: _s("uid") = None
    name: _s("the group's topic") = None
    displayname: _s("display name") = None
    owner_uid: _s("owner uid") = None


# --------------------------------------------------------------------------- media


def _media_fields() -> list[tuple[str, type, None]]:
    """The ``media_*`` parameters, shared by every endpoint that sends media.

    msgspec Structs cannot inherit fields from two bases, so endpoints that take a
    look-up *and* media are built with ``msgspec.defstruct`` on the look-up base.
    """
    docs = {
        "media_id": "a media_id returned by an earlier send or upload_media (no re-upload)",
        "media_path": "a local file (in an allowed folder) or an http(s) URL",
        "media_data": "the media's bytes as a form field (Mojo::Weixin compatibility)",
        "media_name": "file name to announce (default: from the path or URL)",
        "media_mime": "MIME type (default: inferred)",
        "media_ext": "file extension (default: inferred)",
        "media_type": "image, emoticon, video, microvideo, voice or file (default: inferred)",
        "media_size": "size in bytes (only needed to reuse a file media_id)",
        "media_mtime": "modification time, epoch seconds",
    }
    return [(name, _s(doc), None) for name, doc in docs.items()]


def has_media(params: object) -> bool:
    """Whether a send names media (media_id, media_path or media_data)."""
    return bool(
        getattr(params, "media_id", None)
        or getattr(params, "media_path", None)
        or getattr(params, "media_data", None)
    )


def truthy(value: str | None) -> bool:
    """Perl truth, as Mojo::Weixin tested ``async``: absent, "" and "0" are false."""
    return value not in (None, "", "0")


_CONTENT = ("content", _s("text to send"), None)
_ASYNC = (
    "async_",
    Annotated[
        str | None, Meta(description="1: answer at once and send in the background (any true value)")
    ],
    msgspec.field(default=None, name="async"),
)
_TIMEOUT = (
    "timeout",
    Annotated[float, Meta(gt=0, le=3600, description="seconds to wait for the reply (default 30)")],
    30.0,
)


def _with_media(name: str, base: type[Params], *extra: tuple) -> type[Params]:
    return msgspec.defstruct(
        name, [*extra, *_media_fields()], bases=(base,), kw_only=True, module=__name__
    )


#: ``id=@all`` sends to every friend (answers at once).
SendFriendParams = _with_media("SendFriendParams", FriendLookup, _CONTENT, _ASYNC)
SendGroupParams = _with_media("SendGroupParams", GroupLookup, _CONTENT, _ASYNC)
ConsultParams = _with_media("ConsultParams", FriendLookup, _CONTENT, _TIMEOUT)
UploadParams = _with_media("UploadParams", Params)


class RevokeParams(Params):
    id: _s("the msg_id (or Mojo::Weixin's id, MsgID:receiver) a send returned") = None
    msg_id: _s("alias of id") = None


# --------------------------------------------------------------------------- groups


class CreateGroupParams(Params):
    friends: _s("comma-separated friend ids (a JSON array also works)") = None
    displayname: _s("the new group's topic (optional)") = None


class InviteParams(GroupLookup):
    friends: _s("comma-separated friend ids to add to the group") = None


class KickParams(GroupLookup):
    members: _s("comma-separated member ids to remove") = None


class RenameGroupParams(GroupLookup):
    new_displayname: _s("the new topic (required, not empty)") = None


# --------------------------------------------------------------------------- contacts


class SetMarknameParams(FriendLookup):
    group_id: _s("with it, id names a member of this group instead of a friend") = None
    new_markname: _s("the new remark (absent or empty clears it)") = None


class SetFriendMarknameParams(FriendLookup):
    new_markname: _s("the new remark (absent or empty clears it)") = None


class StickParams(Params):
    id: _s("friend or group id") = None
    op: Annotated[int, Meta(ge=0, le=1, description="1 pin (default), 0 unpin")] = 1


class MakeFriendParams(Params):
    id: _s("a group member's id") = None
    verify: _s("the request's greeting") = None


class AcceptFriendParams(Params):
    id: _s("the requester's id (from the friend_request event)") = None
    displayname: _s("the requester's display name (echoed back)") = None
    ticket: _s("the ticket from the friend_request event") = None


class AvatarParams(FriendLookup):
    group_id: _s("with it, id names a member of this group") = None


# --------------------------------------------------------------------------- events


class CheckEventParams(Params):
    cursor: Annotated[
        Annotated[int, Meta(ge=0)] | None,
        Meta(description="addition: return the items after this event_id (no buffer)"),
    ] = None
    limit: Annotated[
        int, Meta(ge=1, le=1000, description="with cursor: most items per answer (default 100)")
    ] = 100
    timeout: Annotated[
        float, Meta(ge=0, le=300, description="seconds to hold the request when empty (default 30)")
    ] = 30.0


def convert(params: dict[str, str], cls: type[P]) -> P:
    """The endpoint's Struct from the request's strings, or a 400 naming the bad one."""
    try:
        return msgspec.convert(params, cls, strict=False)
    except msgspec.ValidationError as exc:
        text, _, where = str(exc).partition(" - at `$.")
        name = where.rstrip("`")
        if name:
            raise bad_parameter(f"invalid parameter {name}: {text}") from exc
        raise bad_parameter(f"invalid parameters: {text}") from exc


def split_ids(value: str | None) -> list[str]:
    """``"@a, @b,"`` -> ``["@a", "@b"]`` (empty items dropped)."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
