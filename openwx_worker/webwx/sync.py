"""Receiving: synccheck (long poll on the push host) and webwxsync (web-protocol.md §6).

Two keys, two uses: webwxsync sends ``session.sync_key`` and stores the returned
``SyncKey`` there; synccheck sends ``session.check_key`` and the reply's
``SyncCheckKey`` is stored there.  Mixing them makes the server re-deliver or
spin.  A synccheck retcode other than 0 is raised as the typed session error
(1100/1101/1102) or a plain :class:`WeChatError`; the answer that is not a
synccheck line at all is a :class:`ProtocolError`, as is a garbage status line
(httpx reports it as a protocol error, translated in :mod:`.errors`).
"""

from __future__ import annotations

import msgspec

from openwx_worker.errors import ProtocolError, wechat_error

from .errors import check_status, translated
from .login import parse_js
from .payloads import Pascal, SyncKey, SyncReply
from .session import LONG_POLL_TIMEOUT, BaseRequest, Session, new_device_id, now_ms


class SyncCheck(msgspec.Struct, frozen=True):
    retcode: int
    selector: int


class _SyncBody(Pascal):
    base_request: BaseRequest
    sync_key: SyncKey
    rr: int = msgspec.field(name="rr")


def parse_synccheck(text: str) -> SyncCheck:
    """``window.synccheck={retcode:"0",selector:"2"}`` → SyncCheck(0, 2)."""
    raw = parse_js(text).get("synccheck", "")
    fields = dict(
        (k.strip().strip('"'), v.strip().strip('"'))
        for k, _, v in (pair.partition(":") for pair in raw.strip("{}").split(","))
    )
    retcode, selector = fields.get("retcode", ""), fields.get("selector", "")
    if not (retcode.lstrip("-").isdigit() and selector.lstrip("-").isdigit()):
        raise ProtocolError(f"synccheck: unexpected answer {text[:200]!r}")
    return SyncCheck(int(retcode), int(selector))


async def synccheck(session: Session) -> int:
    """One synccheck long poll; returns the selector (0 = nothing new).

    Raises the typed error for a non-zero retcode.
    """
    c = session.creds
    params = {
        "r": now_ms(), "skey": c.skey, "sid": c.sid, "uin": c.uin,
        "deviceid": new_device_id(), "synckey": session.check_key.as_query(), "_": now_ms(),
    }
    with translated("synccheck"):
        response = await session.http.get(
            session.hosts.url("push", "synccheck"), params=params, timeout=LONG_POLL_TIMEOUT
        )
    check_status(response, "synccheck")
    result = parse_synccheck(response.text)
    if result.retcode != 0:
        raise wechat_error(result.retcode, "synccheck")
    return result.selector


async def webwxsync(session: Session) -> SyncReply:
    """One webwxsync; stores the returned SyncKey / SyncCheckKey / SKey in the session."""
    c = session.creds
    body = _SyncBody(base_request=session.base_request(), sync_key=session.sync_key,
                     rr=~now_ms() & 0xFFFFFFFF)
    reply = await session.post_json(
        "webwxsync", body, SyncReply, params={"sid": c.sid, "skey": c.skey}
    )
    session.set_keys(reply.sync_key, reply.sync_check_key)
    if reply.skey:
        c.skey = reply.skey
    return reply
