"""The Openwx JSON objects: user, friend, group, group member, message, event.

Every Struct here encodes to exactly the shape that existing Openwx clients read
(``openwx-api.zh.md``, and section 0.2 / C.2 / C.3 of ``openwx-reference.md``):

* Field names are the Openwx keys; Python keywords get a ``msgspec.field(name=...)``
  (``Message.msg_class`` is ``"class"``, ``Message.from_`` is ``"from"``).
* Keys are emitted only when the object has them (reference 0.2). A key that can be
  missing is typed ``X | UnsetType`` and defaults to ``UNSET``, which msgspec never
  encodes; keys every object has get a plain default. The synthesized ``filehelper``
  friend, for example, has only ``name``, ``id``, ``uid``, ``category``, ``displayname``.
* ``displayname`` is derived, never set by hand: ``User``, ``Friend`` and
  ``GroupMember`` compute it in ``__post_init__`` (which also runs on ``decode`` and
  ``msgspec.structs.replace``). A group's displayname needs to know who "yourself"
  is, so ``Group.with_displayname(self_id)`` computes it (``ContactBook`` calls it on
  every insert). The rules live in ``person_displayname`` / ``group_displayname``.
* Contacts are frozen: change one with ``msgspec.structs.replace`` so the derived
  fields follow. Messages and events are mutable because ``EventLog.publish`` sets
  ``event_id``.
* ``encode()`` writes keys in alphabetical order, as Mojo::Weixin's JSON encoder did.

The constructors (``make_user``, ``make_friend``, ``make_member``, ``make_group``,
``filehelper_friend``) take already-decoded, already-cleaned values (run names
through ``openwx_worker.text.clean`` first); turning protocol records into models is
the protocol client's job.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType
from msgspec.structs import force_setattr

__all__ = [
    "UNSET",
    "UnsetType",
    "CATEGORY_FRIEND",
    "CATEGORY_OFFICIAL",
    "CATEGORY_SYSTEM",
    "FILEHELPER_ID",
    "FILEHELPER_NAME",
    "SPECIAL_ACCOUNT_IDS",
    "UNKNOWN_GROUP_NAME",
    "UNKNOWN_NICKNAME",
    "Event",
    "Friend",
    "Group",
    "GroupMember",
    "Message",
    "Posted",
    "ReceiveMessage",
    "SendMessage",
    "User",
    "decode_posted",
    "encode",
    "event",
    "filehelper_friend",
    "friend_category",
    "group_displayname",
    "is_group_id",
    "make_friend",
    "make_group",
    "make_member",
    "make_user",
    "person_displayname",
    "sex_name",
]

CATEGORY_SYSTEM = "系统帐号"
CATEGORY_OFFICIAL = "公众号"
CATEGORY_FRIEND = "好友"
UNKNOWN_NICKNAME = "昵称未知"
UNKNOWN_GROUP_NAME = "群名未知"
FILEHELPER_ID = "filehelper"
FILEHELPER_NAME = "文件传输助手"

#: Ids Mojo::Weixin reports with category 系统帐号 (reference 0.2).
SPECIAL_ACCOUNT_IDS = frozenset(
    """filehelper fmessage newsapp weibo qqmail tmessage qmessage qqsync floatbottle
    lbsapp shakeapp medianote qqfriend readerapp blogapp facebookapp masssendapp
    meishiapp feedsapp voip blogappweixin brandsessionholder weixinreminder
    wxid_novlwrv3lqwv11 gh_22b87fa7cb3c officialaccounts notification_messages""".split()
)

#: VerifyFlag bit MM_USERATTRVERIFYFALG_BIZ_BRAND: the contact is an official account.
_VERIFY_BIZ_BRAND = 8


# --------------------------------------------------------------------------- rules


def is_group_id(contact_id: str) -> bool:
    """A group id starts with ``@@`` or ends with ``@chatroom`` (reference 0.1)."""
    return contact_id.startswith("@@") or contact_id.endswith("@chatroom")


def sex_name(code: int | str | None) -> str:
    """WeChat's ``Sex`` code as Openwx writes it: 1 male, 2 female, anything else ""."""
    if code in (1, "1"):
        return "male"
    if code in (2, "2"):
        return "female"
    return ""


def friend_category(contact_id: str, verify_flag: int = 0) -> str:
    """系统帐号 for the special ids, 公众号 when VerifyFlag has bit 8, else 好友."""
    if contact_id in SPECIAL_ACCOUNT_IDS:
        return CATEGORY_SYSTEM
    if verify_flag & _VERIFY_BIZ_BRAND:
        return CATEGORY_OFFICIAL
    return CATEGORY_FRIEND


def person_displayname(
    display: str | UnsetType, markname: str | UnsetType, name: str | UnsetType, fallback: str
) -> str:
    """display -> markname -> name -> fallback; absent and empty values are skipped."""
    return display or markname or name or fallback


def group_displayname(name: str, members: tuple[GroupMember, ...] | UnsetType, self_id: str) -> str:
    """The group's topic, else its first three other members joined with 、, else 群名未知."""
    if name:
        return name
    if members:
        others = [m.displayname for m in members if m.id != self_id][:3]
        if others:
            return "、".join(others)
    return UNKNOWN_GROUP_NAME


# --------------------------------------------------------------------------- contacts


class User(msgspec.Struct, kw_only=True, frozen=True):
    """The logged-in account (get_user_info, update_user, user_property_change).

    ``uid`` is the real numeric Uin. ``sex`` keeps WeChat's raw code (0/1/2), as
    Mojo::Weixin does for the user (reference H "keep": user sex may be numeric).
    """

    account: str = ""
    city: str = ""
    display: str = ""
    displayname: str = ""
    id: str
    markname: str = ""
    name: str = ""
    province: str = ""
    sex: int | str = 0
    signature: str = ""
    uid: int | str = ""

    def __post_init__(self) -> None:
        force_setattr(
            self, "displayname", person_displayname(self.display, self.markname, self.name, "")
        )


class Friend(msgspec.Struct, kw_only=True, frozen=True):
    """A contact of the account: person, official account or system account.

    ``uid`` is always ``""`` (web WeChat hides it). ``markname`` is your remark.
    ``category`` is computed by ``friend_category`` when the record is built.
    """

    account: str | UnsetType = UNSET
    category: str = CATEGORY_FRIEND
    city: str | UnsetType = UNSET
    display: str | UnsetType = UNSET
    displayname: str = ""
    id: str
    markname: str | UnsetType = UNSET
    name: str = ""
    province: str | UnsetType = UNSET
    sex: str | UnsetType = UNSET
    signature: str | UnsetType = UNSET
    uid: int | str = ""

    def __post_init__(self) -> None:
        force_setattr(
            self,
            "displayname",
            person_displayname(self.display, self.markname, self.name, UNKNOWN_NICKNAME),
        )


class GroupMember(msgspec.Struct, kw_only=True, frozen=True):
    """A member of a group. ``display`` is the in-group card name.

    Mojo::Weixin puts the member's nickname in ``markname`` (clients rely on it,
    reference 0.2); ``make_member`` also puts it in ``name`` as the API document's
    examples show. ``account`` and ``sex`` are absent until the member is looked up.
    """

    account: str | UnsetType = UNSET
    city: str | UnsetType = UNSET
    display: str | UnsetType = UNSET
    displayname: str = ""
    id: str
    markname: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    province: str | UnsetType = UNSET
    sex: str | UnsetType = UNSET
    signature: str | UnsetType = UNSET
    uid: int | str = ""

    def __post_init__(self) -> None:
        force_setattr(
            self,
            "displayname",
            person_displayname(self.display, self.markname, self.name, UNKNOWN_NICKNAME),
        )


class Group(msgspec.Struct, kw_only=True, frozen=True):
    """A group chat with its members (``member`` is UNSET in get_group_basic_info).

    ``displayname`` depends on the logged-in user's id, so it is filled by
    ``with_displayname(self_id)`` (``make_group`` and ``ContactBook`` call it).
    """

    displayname: str = ""
    id: str
    member: tuple[GroupMember, ...] | UnsetType = ()
    name: str = ""
    owner_uid: int | str = 0
    uid: int | str = ""

    def with_displayname(self, self_id: str) -> Group:
        """This group with ``displayname`` computed for the account ``self_id``."""
        shown = group_displayname(self.name, self.member, self_id)
        if shown == self.displayname:
            return self
        return msgspec.structs.replace(self, displayname=shown)

    def without_members(self) -> Group:
        """The get_group_basic_info view: the same group without the ``member`` key."""
        return msgspec.structs.replace(self, member=UNSET)


def make_user(
    *,
    id: str,
    uid: int | str,
    name: str = "",
    account: str = "",
    province: str = "",
    city: str = "",
    signature: str = "",
    sex: int | str = 0,
    display: str = "",
    markname: str = "",
) -> User:
    """The logged-in user from decoded values (``sex`` is kept as WeChat's code)."""
    return User(
        id=id, uid=uid, name=name, account=account, province=province, city=city,
        signature=signature, sex=sex, display=display, markname=markname,
    )  # fmt: skip


def make_friend(
    *,
    id: str,
    name: str = "",
    markname: str = "",
    account: str = "",
    province: str = "",
    city: str = "",
    signature: str = "",
    sex: int | str = 0,
    display: str = "",
    verify_flag: int = 0,
) -> Friend:
    """A friend from a contact record: maps ``sex`` and computes ``category``."""
    return Friend(
        id=id, uid="", name=name, markname=markname, account=account, province=province,
        city=city, signature=signature, sex=sex_name(sex), display=display,
        category=friend_category(id, verify_flag),
    )  # fmt: skip


def filehelper_friend() -> Friend:
    """The 文件传输助手 friend Mojo::Weixin adds when the contact list lacks it."""
    return Friend(id=FILEHELPER_ID, name=FILEHELPER_NAME, uid="", category=CATEGORY_SYSTEM)


def make_member(
    *,
    id: str,
    nickname: str = "",
    display: str = "",
    account: str | UnsetType = UNSET,
    sex: int | str | UnsetType = UNSET,
    province: str = "",
    city: str = "",
    signature: str = "",
) -> GroupMember:
    """A group member: ``nickname`` goes to ``markname`` and ``name``, ``display`` is the card.

    ``account`` and ``sex`` stay absent unless the member's full record is known; a
    member without ``account`` is a brief record, and ``ContactBook`` keeps the
    province, city and signature it already knows from a full one.
    """
    return GroupMember(
        id=id, uid="", markname=nickname, name=nickname, display=display, account=account,
        sex=UNSET if sex is UNSET else sex_name(sex), province=province, city=city,
        signature=signature,
    )  # fmt: skip


def make_group(
    *,
    id: str,
    name: str = "",
    members: list[GroupMember] | tuple[GroupMember, ...] = (),
    owner_uid: int = 0,
    self_id: str = "",
) -> Group:
    """A group with its members; ``self_id`` (the user's id) is needed for displayname."""
    group = Group(id=id, uid="", name=name, member=tuple(members), owner_uid=owner_uid)
    return group.with_displayname(self_id)


# --------------------------------------------------------------------------- messages

MessageType = Literal["friend_message", "group_message", "group_notice"]
MessageFormat = Literal["text", "media", "app", "revoke", "card", "payment"]

# Fields that keep their real value in a report even when falsy (everything else
# that is falsy is written as "", reference C.2 "Falsy values").
_KEEP_FALSY = frozenset({"event_id"})


class Message(msgspec.Struct, kw_only=True):
    """A message report (post_type receive_message / send_message, reference C.2).

    Build ``ReceiveMessage`` or ``SendMessage``; this base only holds the fields.
    Absent keys stay ``UNSET``. As in Mojo::Weixin, any scalar that is falsy
    (``0``, ``None``, ``False``) is written as ``""`` (so a successful send reports
    ``"code":""``); ``event_id`` is exempt.
    """

    app_desc: str | UnsetType = UNSET
    app_id: str | UnsetType = UNSET
    app_name: str | UnsetType = UNSET
    app_title: str | UnsetType = UNSET
    app_url: str | UnsetType = UNSET
    card_account: str | UnsetType = UNSET
    card_avatar: str | UnsetType = UNSET
    card_city: str | UnsetType = UNSET
    card_id: str | UnsetType = UNSET
    card_name: str | UnsetType = UNSET
    card_province: str | UnsetType = UNSET
    card_sex: str | UnsetType = UNSET
    msg_class: Literal["send", "recv"] = msgspec.field(name="class")
    code: int | str | UnsetType = UNSET
    content: str = ""
    event_id: int | None = None
    format: MessageFormat = "text"
    from_: str | UnsetType = msgspec.field(default=UNSET, name="from")
    group: str | UnsetType = UNSET
    group_id: str | UnsetType = UNSET
    group_name: str | UnsetType = UNSET
    group_uid: int | str | UnsetType = UNSET
    id: str
    info: str | UnsetType = UNSET
    media_code: int | str | UnsetType = UNSET
    media_data: str | UnsetType = UNSET
    media_ext: str | UnsetType = UNSET
    media_id: str | UnsetType = UNSET
    media_mime: str | UnsetType = UNSET
    media_mtime: int | str | UnsetType = UNSET
    media_name: str | UnsetType = UNSET
    media_path: str | UnsetType = UNSET
    media_size: int | str | UnsetType = UNSET
    media_type: str | UnsetType = UNSET
    msg: str | UnsetType = UNSET
    receiver: str | UnsetType = UNSET
    receiver_account: str | UnsetType = UNSET
    receiver_id: str | UnsetType = UNSET
    receiver_markname: str | UnsetType = UNSET
    receiver_name: str | UnsetType = UNSET
    receiver_uid: int | str | UnsetType = UNSET
    revoke_id: str | UnsetType = UNSET
    sender: str | UnsetType = UNSET
    sender_account: str | UnsetType = UNSET
    sender_category: str | UnsetType = UNSET
    sender_id: str | UnsetType = UNSET
    sender_markname: str | UnsetType = UNSET
    sender_name: str | UnsetType = UNSET
    sender_uid: int | str | UnsetType = UNSET
    source: str | UnsetType = UNSET
    time: int | str
    ttl: int | str | UnsetType = UNSET
    type: MessageType
    uid: int | str | UnsetType = UNSET

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not UNSET and not value and value != "" and name not in _KEEP_FALSY:
                setattr(self, name, "")

    @property
    def post_type(self) -> str:
        """``receive_message`` or ``send_message`` (the JSON tag)."""
        return self.__struct_config__.tag  # type: ignore[return-value]


class ReceiveMessage(Message, tag_field="post_type", tag="receive_message"):
    """A message this account received (class ``recv``)."""


class SendMessage(Message, tag_field="post_type", tag="send_message"):
    """A message this account sent: by the API, a post_api reply, or another device."""


class Event(msgspec.Struct, kw_only=True, tag_field="post_type", tag="event"):
    """An event report: ``{"post_type":"event","event":NAME,"params":[...]}`` (reference C.3).

    ``params`` holds model objects, strings and numbers as the event table says;
    after a decode they are plain JSON values (dicts), which encode identically.
    """

    event: str
    event_id: int | None = None
    params: list[Any] = msgspec.field(default_factory=list)


def event(name: str, *params: Any) -> Event:
    """``event("new_friend", friend)`` -> the Event with those params."""
    return Event(event=name, params=list(params))


#: Everything the worker posts to post_api and returns from check_event.
Posted = ReceiveMessage | SendMessage | Event

_encoder = msgspec.json.Encoder(order="sorted")
_posted_decoder = msgspec.json.Decoder(Posted)


def encode(obj: Any) -> bytes:
    """JSON bytes for any model, list of models or reply dict, keys sorted."""
    return _encoder.encode(obj)


def decode_posted(data: bytes | str) -> ReceiveMessage | SendMessage | Event:
    """Decode one posted JSON object back into its model (tag ``post_type``)."""
    return _posted_decoder.decode(data)
