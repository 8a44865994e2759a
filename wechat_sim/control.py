"""The `/sim/` control API: play the phones and the contacts (JSON in, JSON out).

Inputs are Structs with `forbid_unknown_fields` so a typo is an error, not a silent no-op.
Errors answer `{"error": "..."}` with 400 (bad input) or 404 (unknown id). Paths are listed
in wechat_sim/README.md.
"""

from __future__ import annotations

import base64
import dataclasses
import re

import msgspec

from wechat_sim import control_changes, control_extra
from wechat_sim.control_io import body as _body
from wechat_sim.control_io import ok as _ok
from wechat_sim.errors import BadRequest, NotFound, SimError
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
    mention: list[str] = []  # group text: members @-mentioned (`@name` + U+2005 prefix)


class LogoutIn(msgspec.Struct, forbid_unknown_fields=True):
    retcode: int = 1101


class ReplayIn(msgspec.Struct, forbid_unknown_fields=True):
    count: int = 1


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
            "wxid": a.wxid,
            "nickname": a.person.nickname,
            "uin": a.uin,
            "main_host": a.main_host,
            "logged_in": world.logged_in(wxid),
            "friends": friends,
            "groups": groups,
        }  # fmt: skip
    )


def list_logins(world: World, req: Request) -> Response:
    out = []
    for uuid in list(world.logins):
        login = world.get_login(uuid)
        assert login is not None
        out.append(
            {
                "uuid": uuid,
                "state": login.state.value,
                "account": login.account,
                "push": login.push,
                "desktop": login.desktop,
            }  # fmt: skip
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
        seconds=m.seconds, revoke_msg_id=revoke, mentions=m.mention,
    )  # fmt: skip
    return _ok({"msg_id": str(message.msg_id)})


def get_sent(world: World, req: Request, wxid: str) -> Response:
    return _ok(
        [
            {
                "to": s.to,
                "type": s.type,
                "content": s.content,
                "msg_id": s.msg_id,
                "time": s.time,
                "msg_type": s.msg_type,
                **control_extra.sent_extra(world, wxid, s),  # media info, revoked
            }  # fmt: skip
            for s in world.account(wxid).sent
        ]
    )


def logout(world: World, req: Request, wxid: str) -> Response:
    body = _body(req, LogoutIn)
    if body.retcode not in (1100, 1101, 1102):
        raise BadRequest("retcode must be 1100, 1101 or 1102")
    world.account(wxid)
    return _ok({"ended": world.end_sessions(wxid, body.retcode)})


def replay(world: World, req: Request, wxid: str) -> Response:
    """The service re-delivers the account's last `count` received messages (replay.py)."""
    body = _body(req, ReplayIn)
    if body.count < 0:
        raise BadRequest("count must be >= 0")
    messages, sessions = world.replay_recent(wxid, body.count)
    return _ok({"msg_ids": [str(m.msg_id) for m in messages], "sessions": sessions})


def list_sessions(world: World, req: Request) -> Response:
    return _ok(
        [
            {
                "account": s.account,
                "uin": s.uin,
                "sid": s.sid,
                "alive": s.alive,
                "ended": s.ended,
                "main_host": s.main_host,
                "pending": len(s.log),
            }  # fmt: skip
            for s in world.sessions
        ]
    )


def list_requests(world: World, req: Request) -> Response:
    """Protocol requests seen (newest last); `?path=<substring>&limit=N` filter them."""
    part = req.query.get("path", "")
    limit = int(req.query["limit"]) if req.query.get("limit", "").isdigit() else 200
    seen = [r for r in world.requests if part in r.path][-limit:]
    return _ok([dataclasses.asdict(r) for r in seen])


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
    ("POST", rf"/sim/accounts/{_SEG}/replay", replay),
    ("GET", r"/sim/sessions", list_sessions),
    ("GET", r"/sim/requests", list_requests),
    *control_changes.ROUTES,  # contacts, groups, auto-replies, settings, config
    *control_extra.ROUTES,  # faults, sent media bytes, web friend requests
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
