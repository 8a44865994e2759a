"""Applying fault injection (`wechat_sim.faults`) to protocol requests, at one place.

`SimApp` calls `intercept` once per protocol request, before routing, so a faulted call
never reaches a world verb (a refused call changes nothing, as on the real service).

Two kinds cannot be said in ASGI at all: "drop" (no response, just a closed connection)
and "garbage" (bytes that are not an HTTP status line). For those `intercept` writes to or
closes the connection's trio stream itself; see `_connection_stream` for how it is found.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import trio

from wechat_sim.errors import RET_TOO_OFTEN
from wechat_sim.faults import FaultKind, Faults, endpoint_name
from wechat_sim.protocol.http import Request, Response, send_response

log = logging.getLogger(__name__)

# What the push host was seen to send instead of a status line (6.1): hex-ish bytes.
GARBAGE = b"6f:00:8a:9c:5e:1d:00:00:e1:7f\r\n\r\n"

Send = Callable[[dict], Awaitable[None]]


async def intercept(faults: Faults, req: Request, send: Send) -> bool:
    """Apply a pending fault to this protocol request; True if it answered (or dropped) it.

    A delay fault sleeps and returns False: the request then goes on as usual. Any other
    kind with a `delay` waits that long first (e.g. a synccheck held, then dropped).
    """
    if not (faults.pending or faults.limits) or req.path.startswith("/sim"):
        return False
    name = endpoint_name(req.path)
    if faults.over_limit(name, _caller(req), trio.current_time()):
        await send_response(send, _too_often(name))
        return True
    fault = faults.take(name)
    if fault is None:
        return False
    log.info("fault %s on %s", fault.kind.value, req.path)
    if fault.delay > 0:  # a delay alone, or before another kind (a long-poll that then fails)
        await trio.sleep(fault.delay)
    if fault.kind is FaultKind.DELAY:
        return False
    if fault.kind is FaultKind.HTTP_500:
        await send_response(send, _server_error(fault.status))
    elif fault.kind is FaultKind.RET_1205:
        await send_response(send, _too_often(name))
    else:
        stream = _connection_stream(send)
        if stream is None:  # not served by hypercorn: the closest ASGI can say
            log.warning("fault %s: connection not reachable, answering 502", fault.kind.value)
            await send_response(send, _server_error(502))
            return True
        with trio.CancelScope(shield=True):
            if fault.kind is FaultKind.GARBAGE:
                try:
                    await stream.send_all(GARBAGE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
            await trio.aclose_forcefully(stream)
    return True


_UIN = re.compile(rb'"Uin"\s*:\s*"?(\d+)')


def _caller(req: Request) -> str:
    """The account a request comes from, for rate limits: its wxuin (query, cookie, body)."""
    uin = req.query.get("uin") or req.cookies.get("wxuin")
    if not uin:
        m = _UIN.search(req.body[:4096])
        uin = m.group(1).decode() if m else ""
    return uin


def _server_error(status: int) -> Response:
    resp = Response.text("<html><body>server error</body></html>", "text/html", status=status)
    resp.headers.append(("connection", "close"))
    return resp


def _too_often(name: str) -> Response:
    if name == "synccheck":
        return Response.js(f'window.synccheck={{retcode:"{RET_TOO_OFTEN}",selector:"0"}}')
    return Response.text(f'{{"BaseResponse":{{"Ret":{RET_TOO_OFTEN},"ErrMsg":"操作太频繁"}}}}')


def _connection_stream(send: Send) -> trio.abc.Stream | None:
    """The trio stream of the connection behind an ASGI `send`, when hypercorn serves us.

    Hypercorn gives the app no handle on its connection. Its `send` is a bound method of
    the request's HTTP stream, whose `send` is bound to the HTTP/1.1 protocol, whose `send`
    is bound to the TCP server that holds the trio stream; we follow that chain of
    `__self__.send` (a few steps, by attribute, nothing private is called). If hypercorn
    changes shape the walk finds nothing and the fault degrades to a 502; the fault tests
    would notice.
    """
    fn: object = send
    for _ in range(6):
        owner = getattr(fn, "__self__", None)
        if owner is None:
            return None
        stream = getattr(owner, "stream", None)
        if isinstance(stream, trio.abc.Stream):
            return stream
        fn = getattr(owner, "send", None)
    return None
