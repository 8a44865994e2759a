"""`/sim/` control endpoints that change the world around an account: friend requests,
friends added/removed, renames, group membership, auto-replies, phone status notifies,
account settings and the SimConfig knobs. Same conventions as `control.py`, which
includes `ROUTES` from here.
"""

from __future__ import annotations

import dataclasses

import msgspec

from wechat_sim.control_io import body as _body
from wechat_sim.control_io import ok as _ok
from wechat_sim.errors import BadRequest, NotFound
from wechat_sim.model import AutoReply, Person
from wechat_sim.protocol.http import MAIN_HOSTS, Request, Response
from wechat_sim.world import World


class GroupMessageIn(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    from_: str
    type: str = "text"
    content: str = ""
    mention: list[str] = []


class ProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    nickname: str | None = None
    signature: str | None = None


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    wxid: str
    nickname: str = ""
    sex: int = 0
    province: str = ""
    city: str = ""
    signature: str = ""
    alias: str = ""
    verify_flag: int = 0


class FriendRequestIn(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    from_: PersonIn
    greeting: str = ""


class FriendIn(PersonIn, forbid_unknown_fields=True):
    notice: bool = True


class RenameIn(msgspec.Struct, forbid_unknown_fields=True):
    nickname: str


class MembersIn(msgspec.Struct, forbid_unknown_fields=True):
    wxids: list[str]
    inviter: str | None = None
    qr: bool = False  # joined by scanning the inviter's group QR code


class RemoveMemberIn(msgspec.Struct, forbid_unknown_fields=True):
    by: str | None = None


class TopicIn(msgspec.Struct, forbid_unknown_fields=True):
    topic: str
    by: str | None = None


class AutoReplyIn(msgspec.Struct, forbid_unknown_fields=True):
    contact: str  # friend wxid, or a group id (then `member` answers)
    reply: str | None = None  # None: echo what the account sent
    delay: float = 1.0
    member: str | None = None


class AccountSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    web_barred: bool | None = None  # plain web logins get 1203
    main_host: str | None = None  # where its redirect_uri points (wx.qq.com, wx2.qq.com, ...)


class StatusNotifyIn(msgspec.Struct, forbid_unknown_fields=True):
    code: int  # 1 read on the phone, 2 entered a chat, 5 left it
    chat: str  # wxid or group id


def _person(req_person: PersonIn, world: World) -> Person:
    if req_person.wxid in world.people:
        return world.people[req_person.wxid]
    fields = msgspec.structs.asdict(req_person)
    fields.pop("notice", None)
    fields["nickname"] = fields["nickname"] or req_person.wxid
    return Person(**fields)


def friend_request(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, FriendRequestIn)
    message = world.friend_request(wxid, _person(body.from_, world), body.greeting)
    return _ok({"msg_id": str(message.msg_id), "wxid": body.from_.wxid})


def add_friend(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, FriendIn)
    world.add_friend(wxid, _person(body, world), notice=body.notice)
    return _ok({"wxid": body.wxid})


def remove_friend(world: World, req: Request, wxid: str, friend: str) -> Response:
    world.remove_friend(wxid, friend)
    return _ok({"wxid": friend})


def group_message(world: World, req: Request, gid: str) -> Response:
    body = _body(req, GroupMessageIn)
    message = world.group_message(gid, body.from_, body.type, body.content, mentions=body.mention)
    return _ok({"msg_id": str(message.msg_id)})


def change_profile(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, ProfileIn)
    world.change_profile(wxid, nickname=body.nickname, signature=body.signature)
    return _ok({"wxid": wxid})


def rename_person(world: World, req: Request, wxid: str) -> Response:
    world.rename_person(wxid, _body(req, RenameIn).nickname)
    return _ok({"wxid": wxid})


def add_members(world: World, req: Request, gid: str) -> Response:
    body = _body(req, MembersIn)
    world.join_group(gid, body.wxids, body.inviter, via_qr=body.qr)
    return _ok({"members": world.group(gid).members})


def remove_member(world: World, req: Request, gid: str, member: str) -> Response:
    body = _body(req, RemoveMemberIn)
    world.leave_group(gid, member, body.by)
    return _ok({"members": world.group(gid).members})


def rename_group(world: World, req: Request, gid: str) -> Response:
    body = _body(req, TopicIn)
    world.rename_group(gid, body.topic, body.by)
    return _ok({"wxid": gid, "topic": body.topic})


def set_auto_reply(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, AutoReplyIn)
    account = world.account(wxid)
    if body.contact in world.groups:
        group = world.group(body.contact)
        if body.member is None or body.member not in group.members:
            raise BadRequest("a group auto-reply needs a 'member' of that group")
    elif body.contact not in account.friends:
        raise BadRequest(f"{body.contact} is not a friend or group of {wxid}")
    if body.delay < 0:
        raise BadRequest("delay must be >= 0")
    account.auto_replies[body.contact] = AutoReply(body.reply, body.delay, body.member)
    return _ok({"contact": body.contact})


def delete_auto_reply(world: World, req: Request, wxid: str, contact: str) -> Response:
    if world.account(wxid).auto_replies.pop(contact, None) is None:
        raise NotFound(f"no auto-reply for {contact}")
    return _ok({"contact": contact})


def get_config(world: World, req: Request) -> Response:
    return _ok(dataclasses.asdict(world.config))


def set_config(world: World, req: Request) -> Response:
    """Change SimConfig knobs at run time (for a sim running as a separate process)."""
    changes = _body(req, dict[str, bool | int | float | str])
    current = dataclasses.asdict(world.config)
    for key, value in changes.items():
        if key not in current:
            raise BadRequest(f"unknown config key {key!r}; known: {', '.join(current)}")
        try:
            value = msgspec.convert(value, type(current[key]))
        except msgspec.ValidationError as exc:
            raise BadRequest(f"{key}: {exc}") from None
        setattr(world.config, key, value)
    return _ok(dataclasses.asdict(world.config))


def account_settings(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, AccountSettingsIn)
    account = world.account(wxid)
    if body.main_host is not None:
        if body.main_host not in MAIN_HOSTS:
            raise BadRequest(f"main_host must be one of {', '.join(MAIN_HOSTS)}")
        account.main_host = body.main_host
    if body.web_barred is not None:
        account.web_barred = body.web_barred
    return _ok({"wxid": wxid, "web_barred": account.web_barred, "main_host": account.main_host})


def phone_status(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, StatusNotifyIn)
    message = world.phone_status(wxid, body.code, body.chat)
    return _ok({"msg_id": str(message.msg_id)})


_SEG = r"([^/]+)"
ROUTES = (
    ("POST", rf"/sim/groups/{_SEG}/messages", group_message),
    ("POST", rf"/sim/accounts/{_SEG}/profile", change_profile),
    ("POST", rf"/sim/accounts/{_SEG}/friend_requests", friend_request),
    ("POST", rf"/sim/accounts/{_SEG}/friends", add_friend),
    ("DELETE", rf"/sim/accounts/{_SEG}/friends/{_SEG}", remove_friend),
    ("POST", rf"/sim/people/{_SEG}/rename", rename_person),
    ("POST", rf"/sim/groups/{_SEG}/members", add_members),
    ("POST", rf"/sim/groups/{_SEG}/members/{_SEG}/remove", remove_member),
    ("POST", rf"/sim/groups/{_SEG}/rename", rename_group),
    ("POST", rf"/sim/accounts/{_SEG}/auto_replies", set_auto_reply),
    ("DELETE", rf"/sim/accounts/{_SEG}/auto_replies/{_SEG}", delete_auto_reply),
    ("POST", rf"/sim/accounts/{_SEG}/status_notify", phone_status),
    ("POST", rf"/sim/accounts/{_SEG}/settings", account_settings),
    ("GET", r"/sim/config", get_config),
    ("POST", r"/sim/config", set_config),
)
