"""`/sim/` control endpoints for faults, rate limits, sent media and web friend requests.

Kept apart from `control.py` (same conventions: strict JSON in, JSON out, 400/404 errors)
so each file stays small; `control.CONTROL_ROUTES` includes `ROUTES` from here.
"""

from __future__ import annotations

import msgspec

from wechat_sim.control_io import body as _body
from wechat_sim.control_io import ok as _ok
from wechat_sim.errors import NotFound
from wechat_sim.media import media_info
from wechat_sim.model import SentRecord
from wechat_sim.protocol.http import Request, Response
from wechat_sim.world import World


class FaultIn(msgspec.Struct, forbid_unknown_fields=True):
    endpoint: str
    kind: str
    count: int = 1
    delay: float = 0.0
    status: int = 500


class RateLimitIn(msgspec.Struct, forbid_unknown_fields=True):
    endpoint: str
    max: int
    per: float


def sent_extra(world: World, wxid: str, record: SentRecord) -> dict:
    """Extra keys of a `/sent` entry: media info (media sends) and whether it was revoked."""
    message = world.account(wxid).messages.get(int(record.msg_id))
    revoked = message is not None and message.msg_id in world.ops_state.revoked
    return {**media_info(message, world.media), "revoked": revoked}


def add_fault(world: World, req: Request) -> Response:
    body = _body(req, FaultIn)
    fault = world.faults.add(
        body.endpoint, body.kind, body.count, delay=body.delay, status=body.status
    )
    return _ok(fault.as_json())


def list_faults(world: World, req: Request) -> Response:
    return _ok([f.as_json() for f in world.faults.pending])


def clear_faults(world: World, req: Request) -> Response:
    return _ok({"cleared": world.faults.clear()})


def add_rate_limit(world: World, req: Request) -> Response:
    body = _body(req, RateLimitIn)
    return _ok(world.faults.limit(body.endpoint, body.max, body.per).as_json())


def list_rate_limits(world: World, req: Request) -> Response:
    return _ok([limit.as_json() for limit in world.faults.limits.values()])


def clear_rate_limits(world: World, req: Request) -> Response:
    count = len(world.faults.limits)
    world.faults.limits.clear()
    return _ok({"cleared": count})


def sent_media(world: World, req: Request, wxid: str, msg_id: str) -> Response:
    """The bytes of a media message the account sent (for asserting what was uploaded)."""
    message = world.account(wxid).messages.get(int(msg_id)) if msg_id.isdigit() else None
    if message is None or message.from_wxid != wxid or message.media is None:
        raise NotFound(f"no media message {msg_id} sent by {wxid}")
    return Response(200, message.media, message.media_mime or "application/octet-stream")


def list_outgoing(world: World, req: Request, wxid: str) -> Response:
    world.account(wxid)
    requests = world.ops_state.outgoing.get(wxid, {}).values()
    return _ok([{"wxid": r.wxid, "greeting": r.greeting, "time": r.time} for r in requests])


def accept_outgoing(world: World, req: Request, wxid: str, person: str) -> Response:
    world.account(wxid)
    world.accept_outgoing(wxid, person)
    return _ok({"wxid": person})


_SEG = r"([^/]+)"
ROUTES = (
    ("POST", r"/sim/faults", add_fault),
    ("GET", r"/sim/faults", list_faults),
    ("DELETE", r"/sim/faults", clear_faults),
    ("POST", r"/sim/rate_limits", add_rate_limit),
    ("GET", r"/sim/rate_limits", list_rate_limits),
    ("DELETE", r"/sim/rate_limits", clear_rate_limits),
    ("GET", rf"/sim/accounts/{_SEG}/sent/{_SEG}/media", sent_media),
    ("GET", rf"/sim/accounts/{_SEG}/outgoing_requests", list_outgoing),
    ("POST", rf"/sim/accounts/{_SEG}/outgoing_requests/{_SEG}/accept", accept_outgoing),
)
