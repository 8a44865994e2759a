"""JSON in and out for the `/sim/` control handlers (`control.py`, `control_changes.py`,
`control_extra.py`), kept in one place so every endpoint answers bad input the same way.

Inputs are Structs with `forbid_unknown_fields`, so a typo is a 400 naming the field rather
than a silent no-op.
"""

from __future__ import annotations

import msgspec

from wechat_sim.errors import BadRequest
from wechat_sim.protocol.http import Request, Response


def body(req: Request, type_):
    """The request's JSON body decoded as `type_` (an empty body is `{}`); else BadRequest."""
    try:
        return msgspec.json.decode(req.body or b"{}", type=type_)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"invalid JSON body: {exc}") from None


def ok(obj: object, status: int = 200) -> Response:
    """`obj` as an `application/json` answer."""
    return Response.json(obj, status, "application/json")
