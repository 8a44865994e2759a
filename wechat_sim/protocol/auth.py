"""Which session a request belongs to, checked as strictly as web-protocol.md says (strict 4-6).

uin/sid come from BaseRequest, else the query, else the cookies. A non-empty skey (body or
query) must match; with no skey at all the cookies must name the session (M's cookie
restore). pass_ticket, when given and not `undefined`, must match after URL-decoding until
stable (12.3). In named mode the request's host family must be the session's main host.
"""

from __future__ import annotations

from urllib.parse import unquote

import msgspec

from wechat_sim.errors import RET_PARAM, RET_SESSION_INVALID, SessionEnded, SimError
from wechat_sim.model import Session
from wechat_sim.protocol.http import Request
from wechat_sim.protocol.wire import BaseRequest
from wechat_sim.world import World


def decode(req: Request, type_: type):
    """Decode a JSON body leniently (any Content-Type, Uin as string, unknown keys)."""
    try:
        return msgspec.json.decode(req.body or b"{}", type=type_, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SimError(RET_PARAM, f"bad request body: {exc}") from None


def _fully_unquoted(value: str) -> str:
    while True:
        decoded = unquote(value)
        if decoded == value:
            return value
        value = decoded


def pass_ticket_ok(session: Session, value: str | None) -> bool:
    if value is None or value in ("", "undefined"):
        return True
    value = _fully_unquoted(value)
    return value == session.pass_ticket or value.replace(" ", "+") == session.pass_ticket


def authenticate(world: World, req: Request, base: BaseRequest | None = None) -> Session:
    """The live session of this request, or SessionEnded carrying the retcode to answer."""
    q, cookies = req.query, req.cookies
    uin = (
        str(base.uin)
        if base and base.uin not in (None, "")
        else q.get("uin") or cookies.get("wxuin", "")
    )
    sid = (base.sid if base and base.sid else None) or q.get("sid") or cookies.get("wxsid", "")
    uin = uin.strip()
    if not uin.isdigit() or not sid:
        raise SessionEnded(RET_SESSION_INVALID, "no session credentials")
    session = world.find_session(int(uin), sid)
    skey = (base.skey if base and base.skey else None) or q.get("skey") or ""
    if skey:
        if skey != session.skey:
            raise SessionEnded(RET_SESSION_INVALID, "skey mismatch")
    elif cookies.get("wxsid") != session.sid:
        raise SessionEnded(RET_SESSION_INVALID, "no skey and no session cookie")
    if not pass_ticket_ok(session, q.get("pass_ticket")):
        raise SessionEnded(RET_SESSION_INVALID, "pass_ticket mismatch")
    if req.hostinfo.named and req.hostinfo.main and req.hostinfo.main != session.main_host:
        raise SessionEnded(RET_SESSION_INVALID, "wrong host for this session")
    return session


def client_id(value: int | str | float | None) -> str:
    """A ClientMsgId/LocalID/ClientMediaId as text: number or string, any length, floats as
    written (itchat's float-looking revoke ids, 12.3)."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def outgoing(world: World, session: Session, msg) -> str:
    """Checks every send endpoint shares (a `Msg` with ToUserName, and FromUserName, when
    given, naming this session's user); returns its ClientMsgId (else LocalID) as text."""
    if msg is None or not msg.to_user_name:
        raise SimError(RET_PARAM, "Msg.ToUserName missing")
    if msg.from_user_name and msg.from_user_name != world.username(session, session.account):
        raise SimError(RET_PARAM, "FromUserName is not this session's user")
    return client_id(msg.client_msg_id) or client_id(msg.local_i_d)
