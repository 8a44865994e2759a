"""The `/sim/` control API: play the phones and the contacts (JSON in, JSON out).

Inputs are Structs with `forbid_unknown_fields` so a typo is an error, not a silent no-op.
Errors answer `{"error": "..."}` with 400 (bad input) or 404 (unknown id). Paths are listed
in wechat_sim/README.md.
"""

from __future__ import annotations

import base64
import re

import msgspec

from wechat_sim.errors import BadRequest, NotFound, SimError
from wechat_sim.model import Person
from wechat_sim.protocol.http import Request, Response
from wechat_sim.world import World


class ScanIn(msgspec.Struct, forbid_unknown_fields=True):
    account: str


class MessageIn(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    from_: str
    type: str = "text"
    content: str = ""
    group: str | None = None
    to: str | None = None
    data_b64: str | None = None  # media bytes (image/voice/video/emoji/file)
    file_name: str = ""
    url: str = ""
    title: str = ""
    app_type: int = 5
    card: str | None = None  # wxid of the person a card shows
    seconds: int = 3  # voice/video length
    msg_id: str | None = None  # revoke: the message to revoke


class LogoutIn(msgspec.Struct, forbid_unknown_fields=True):
    retcode: int = 1101


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


class RemoveMemberIn(msgspec.Struct, forbid_unknown_fields=True):
    by: str | None = None


class TopicIn(msgspec.Struct, forbid_unknown_fields=True):
    topic: str
    by: str | None = None


def _body(req: Request, type_):
    try:
        return msgspec.json.decode(req.body or b"{}", type=type_)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"invalid JSON body: {exc}") from None


def _ok(obj: object, status: int = 200) -> Response:
    return Response.json(obj, status, "application/json")


def _person(req_person: PersonIn, world: World) -> Person:
    if req_person.wxid in world.people:
        return world.people[req_person.wxid]
    fields = msgspec.structs.asdict(req_person)
    fields.pop("notice", None)
    fields["nickname"] = fields["nickname"] or req_person.wxid
    return Person(**fields)


# -- handlers -------------------------------------------------------------------------------


def list_accounts(world: World, req: Request) -> Response:
    return _ok(
        [
            {"wxid": a.wxid, "nickname": a.person.nickname, "logged_in": world.logged_in(a.wxid)}
            for a in world.accounts.values()
        ]
    )


def get_account(world: World, req: Request, wxid: str) -> Response:
    a = world.account(wxid)

    def who(w: str) -> dict:
        p = world.people[w]
        return {"wxid": w, "nickname": p.nickname}

    friends = [
        {**who(w), "remark": f.remark, "verify_flag": world.people[w].verify_flag}
        for w, f in a.friends.items()
    ]
    groups = [
        {
            "wxid": g.wxid,
            "nickname": g.topic,
            "owner": g.owner,
            "members": [{**who(m), "display_name": g.display_names.get(m, "")} for m in g.members],
        }
        for g in world.groups_of(wxid)
    ]
    return _ok(
        {
            "wxid": a.wxid, "nickname": a.person.nickname, "uin": a.uin,
            "main_host": a.main_host, "logged_in": world.logged_in(wxid),
            "friends": friends, "groups": groups,
        }  # fmt: skip
    )


def list_logins(world: World, req: Request) -> Response:
    out = []
    for uuid in list(world.logins):
        login = world.get_login(uuid)
        assert login is not None
        out.append(
            {"uuid": uuid, "state": login.state.value, "account": login.account,
             "push": login.push, "desktop": login.desktop}  # fmt: skip
        )
    return _ok(out)


def _login_out(login) -> Response:
    return _ok({"uuid": login.uuid, "state": login.state.value, "account": login.account})


def scan(world: World, req: Request, uuid: str) -> Response:
    return _login_out(world.scan(uuid, _body(req, ScanIn).account))


def confirm(world: World, req: Request, uuid: str) -> Response:
    return _login_out(world.confirm(uuid))


def cancel(world: World, req: Request, uuid: str) -> Response:
    return _login_out(world.cancel(uuid))


def expire(world: World, req: Request, uuid: str) -> Response:
    return _login_out(world.expire(uuid))


def post_message(world: World, req: Request, wxid: str) -> Response:
    m = _body(req, MessageIn)
    data = base64.b64decode(m.data_b64) if m.data_b64 else None
    revoke = int(m.msg_id) if m.msg_id and m.msg_id.isdigit() else None
    message = world.incoming(
        wxid, m.from_, m.type, m.content, group=m.group, to=m.to, data=data,
        file_name=m.file_name, url=m.url, title=m.title, app_type=m.app_type, card=m.card,
        seconds=m.seconds, revoke_msg_id=revoke,
    )  # fmt: skip
    return _ok({"msg_id": str(message.msg_id)})


def get_sent(world: World, req: Request, wxid: str) -> Response:
    return _ok(
        [
            {"to": s.to, "type": s.type, "content": s.content, "msg_id": s.msg_id,
             "time": s.time, "msg_type": s.msg_type}  # fmt: skip
            for s in world.account(wxid).sent
        ]
    )


def logout(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, LogoutIn)
    if body.retcode not in (1100, 1101, 1102):
        raise BadRequest("retcode must be 1100, 1101 or 1102")
    world.account(wxid)
    return _ok({"ended": world.end_sessions(wxid, body.retcode)})


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


def rename_person(world: World, req: Request, wxid: str) -> Response:
    world.rename_person(wxid, _body(req, RenameIn).nickname)
    return _ok({"wxid": wxid})


def add_members(world: World, req: Request, gid: str) -> Response:
    body = _body(req, MembersIn)
    world.join_group(gid, body.wxids, body.inviter)
    return _ok({"members": world.group(gid).members})


def remove_member(world: World, req: Request, gid: str, member: str) -> Response:
    body = _body(req, RemoveMemberIn)
    world.leave_group(gid, member, body.by)
    return _ok({"members": world.group(gid).members})


def rename_group(world: World, req: Request, gid: str) -> Response:
    body = _body(req, TopicIn)
    world.rename_group(gid, body.topic, body.by)
    return _ok({"wxid": gid, "topic": body.topic})


def list_sessions(world: World, req: Request) -> Response:
    return _ok(
        [
            {"account": s.account, "uin": s.uin, "sid": s.sid, "alive": s.alive,
             "ended": s.ended, "main_host": s.main_host, "pending": len(s.log)}  # fmt: skip
            for s in world.sessions
        ]
    )


_SEG = r"([^/]+)"
CONTROL_ROUTES = (
    ("GET", r"/sim/accounts", list_accounts),
    ("GET", rf"/sim/accounts/{_SEG}", get_account),
    ("GET", r"/sim/logins", list_logins),
    ("POST", rf"/sim/logins/{_SEG}/scan", scan),
    ("POST", rf"/sim/logins/{_SEG}/confirm", confirm),
    ("POST", rf"/sim/logins/{_SEG}/cancel", cancel),
    ("POST", rf"/sim/logins/{_SEG}/expire", expire),
    ("POST", rf"/sim/accounts/{_SEG}/messages", post_message),
    ("GET", rf"/sim/accounts/{_SEG}/sent", get_sent),
    ("POST", rf"/sim/accounts/{_SEG}/logout", logout),
    ("POST", rf"/sim/accounts/{_SEG}/friend_requests", friend_request),
    ("POST", rf"/sim/accounts/{_SEG}/friends", add_friend),
    ("DELETE", rf"/sim/accounts/{_SEG}/friends/{_SEG}", remove_friend),
    ("POST", rf"/sim/people/{_SEG}/rename", rename_person),
    ("POST", rf"/sim/groups/{_SEG}/members", add_members),
    ("POST", rf"/sim/groups/{_SEG}/members/{_SEG}/remove", remove_member),
    ("POST", rf"/sim/groups/{_SEG}/rename", rename_group),
    ("GET", r"/sim/sessions", list_sessions),
)
_COMPILED = [(m, re.compile(p + r"/?"), h) for m, p, h in CONTROL_ROUTES]


async def handle(world: World, req: Request) -> Response:
    matched_path = False
    for method, pattern, handler in _COMPILED:
        match = pattern.fullmatch(req.path)
        if match is None:
            continue
        matched_path = True
        if method != req.method:
            continue
        try:
            return handler(world, req, *match.groups())
        except NotFound as exc:
            return _ok({"error": exc.message}, 404)
        except SimError as exc:
            return _ok({"error": exc.message, "ret": exc.ret}, 400)
    if matched_path:
        return _ok({"error": f"method {req.method} not allowed on {req.path}"}, 405)
    return _ok({"error": f"no control endpoint {req.path}"}, 404)
