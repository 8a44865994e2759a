"""The supervisor's HTTP/1.1 server: a lean trio server in front of the ASGI controller app.

Why not hypercorn, the project's server everywhere else: the supervisor's port is
a proxy, and the proxy hot path must stay cheap (issue 7: proxied / direct latency
of get_user_info <= 1.5, about 0.3 ms of overhead in all). Measured on the
project's shared 2-core machine with ``scripts/bench_supervisor.py``: hypercorn +
httpcore relaying ASGI messages cost 0.87-1.00 ms of supervisor CPU per request
and gave ratios of 2.35-2.91; hypercorn alone, answering a fixed reply, already
costs 0.35 ms of CPU per request and an httpcore client 0.19 ms, so no tuning of
that path could reach the target. This server relaying bytes (``relay.py``) costs
0.17-0.23 ms and gives 1.25-1.63 (median 1.37 over 13 runs, 11 within the target;
the two above came when the direct call was fastest, 0.45 ms); a bare byte relay with no
parsing at all measured 1.12-1.30 on the same setup. Figures and method in
``systemd/README.md``. So this module, ``relay.py``, ``wire.py`` and ``rawio.py``
are the one measured exception to "hypercorn for servers, httpx/httpcore for
clients"; the health probes still use httpcore.

What it does: reads each request head itself (``wire.py``), then calls the
unchanged ASGI app (``api.ControllerApp``) with a scope, ``receive`` and
``send``. The app's proxy route does not read the body through ``receive``: it
asks the :class:`Exchange` in ``scope["extensions"]["openwx.exchange"]`` to relay
the request bytes to a worker (``relay.py``). Management endpoints read their
small body through ``receive`` and answer through ``send`` as with any ASGI
server. Connections are kept alive (``keep_alive_timeout`` idle), HTTP/1.0
connections are closed after one reply, ``Expect: 100-continue`` is answered here,
and a head we cannot parse gets a 400 and a closed connection.
"""

from __future__ import annotations

import email.utils
import http
import logging
import math
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio

from . import rawio
from .config import split_listen
from .rawio import Broken, Stream
from .wire import (
    HEAD_END,
    MAX_HEAD,
    BadMessage,
    ChunkedScanner,
    Head,
    decode_chunked,
    parse_request_head,
)

log = logging.getLogger(__name__)

_MAX_CHUNKED_BODY = 4 << 20  # a chunked body for a controller endpoint (those take <= 1 MB)
_REASONS = {s.value: s.phrase.encode() for s in http.HTTPStatus}
App = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]],
               Awaitable[None]]


class ClientGone(Exception):
    """The caller closed its connection (or reset it)."""


class _Date:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = email.utils.formatdate(now, usegmt=True).encode()
        return self._value


class Connection:
    """One client connection: its stream and the bytes read but not yet used."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.buffer = b""
        self.closing = False  # close once the current reply is written

    async def receive(self) -> bytes:
        try:
            data = await self.stream.recv()
        except Broken as exc:
            raise ClientGone from exc
        if not data:
            raise ClientGone
        return data

    async def send(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except Broken as exc:
            raise ClientGone from exc

    async def next_head(self) -> Head | None:
        """The next request head (None: the client closed between requests)."""
        while (end := self.buffer.find(HEAD_END)) < 0:
            if len(self.buffer) > MAX_HEAD:
                raise BadMessage("request head too large")
            try:
                data = await self.receive()
            except ClientGone:
                return None
            self.buffer += data
        raw, self.buffer = self.buffer[:end], self.buffer[end + 4:]
        return parse_request_head(raw.lstrip(b"\r\n"))  # (RFC 9112 2.2: stray CRLFs)

    async def wait_gone(self) -> None:
        """Return once the client has closed its connection; never if it sends more."""
        await self.stream.wait_closed()


class Exchange:
    """One request and its reply on a :class:`Connection`."""

    def __init__(self, conn: Connection, head: Head, date: _Date) -> None:
        self.conn = conn
        self.head = head
        self.body_pending = head.length != 0 and (head.length is not None or head.chunked)
        self.started = False  # reply bytes were written by send()
        self.relayed = False  # the reply is being relayed as bytes (relay.py): send() is off
        self.finished = False  # the whole reply was written
        self._date = date
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunked_reply = False
        self._continue_sent = False
        self._body_given = False  # receive() returned the whole request body
        self._scanner = ChunkedScanner() if head.chunked else None
        self._left = head.length or 0  # body bytes still to read (Content-Length)

    # -- the request body, as it is on the wire (relay.py forwards it unchanged) --

    def body_in_buffer(self) -> bool:
        """True if the whole request body has already arrived (a request we can replay)."""
        if not self.body_pending:
            return True
        length = self.head.length
        return length is not None and len(self.conn.buffer) >= length

    async def body_chunk(self) -> bytes:
        """The next piece of the body as framed on the wire (b"" once it is all read);
        what follows it stays in the buffer."""
        if not self.body_pending:
            return b""
        conn = self.conn
        if not conn.buffer:
            if self.head.expect_continue and not self._continue_sent:
                self._continue_sent = True
                await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.buffer = await conn.receive()
        data = conn.buffer
        if self._scanner is not None:
            take = self._scanner.feed(data)
            done = self._scanner.done
        else:
            take = min(self._left, len(data))
            self._left -= take
            done = self._left == 0
        if done:
            self.body_pending = False
        if take < len(data):
            conn.buffer = data[take:]
            return data[:take]
        conn.buffer = b""
        return data

    async def raw_body(self) -> AsyncIterator[bytes]:
        while self.body_pending:
            yield await self.body_chunk()

    async def discard_body(self) -> None:
        """Skip an unread request body (after an early reply); close if it is large, or
        if the caller still waits for the 100 Continue it asked for."""
        if self.head.expect_continue and not self._continue_sent and not self.conn.buffer:
            self.conn.closing = True
            return
        size = 0
        while self.body_pending:
            size += len(await self.body_chunk())
            if size > 1 << 20:
                self.conn.closing = True
                return

    # -- ASGI ----------------------------------------------------------------------

    async def receive(self) -> dict:
        if self._body_given:  # then only a disconnect can come (ASGI)
            await self.conn.wait_gone()
            return {"type": "http.disconnect"}
        if self.head.chunked and self.body_pending:  # small bodies only: decoded whole
            self._body_given = True
            parts, size = [], 0
            try:
                while self.body_pending:
                    parts.append(await self.body_chunk())
                    size += len(parts[-1])
                    if size > _MAX_CHUNKED_BODY:
                        raise BadMessage("chunked body too large")
                body = decode_chunked(b"".join(parts))
            except BadMessage as exc:  # no reply can be framed after it: hang up
                log.info("bad request body: %s", exc)
                self.conn.closing = True
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        chunk = await self.body_chunk()
        more = self.body_pending
        self._body_given = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(self, message: dict) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._status = message["status"]
            self._headers = list(message.get("headers", ()))
            return
        if kind != "http.response.body" or self.finished or self.relayed:
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        no_body = self.head.method == b"HEAD" or self._status in (204, 304)
        if not self.started:
            self.started = True
            names = {k.lower() for k, _ in self._headers}
            extra = [(b"date", self._date()), (b"server", b"openwx-supervisor")]
            if not more and b"content-length" not in names and not no_body:
                extra.append((b"content-length", str(len(body)).encode()))
            elif more and b"content-length" not in names and not no_body:
                if self.head.version == b"1.0":
                    self.conn.closing = True
                else:
                    self._chunked_reply = True
                    extra.append((b"transfer-encoding", b"chunked"))
            if self.conn.closing or self.head.close:
                self.conn.closing = True
                extra.append((b"connection", b"close"))
            lines = [b"HTTP/1.1 %d %s" % (self._status, _REASONS.get(self._status, b""))]
            lines += [k + b": " + v for k, v in (*self._headers, *extra)]
            out = b"\r\n".join(lines) + HEAD_END
        else:
            out = b""
        if not no_body:
            if self._chunked_reply:
                if body:
                    out += b"%x\r\n" % len(body) + body + b"\r\n"
                if not more:
                    out += b"0\r\n\r\n"
            else:
                out += body
        if not more:
            self.finished = True
        if out:
            await self.conn.send(out)


def scope_of(head: Head, server: tuple[str, int], client: tuple[str, int] | None,
             exchange: Exchange) -> dict[str, Any]:
    target = head.target
    if target[:1] != b"/" and b"://" in target:  # absolute-form: keep path and query
        target = b"/" + target.split(b"://", 1)[1].partition(b"/")[2]
    raw_path, _, query = target.partition(b"?")
    path = raw_path.decode("latin-1")
    if "%" in path:
        path = urllib.parse.unquote(path)
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": head.version.decode(),
        "method": head.method.decode("latin-1").upper(), "scheme": "http", "path": path,
        "raw_path": raw_path, "query_string": query, "root_path": "", "headers": head.headers,
        "client": client, "server": server, "extensions": {"openwx.exchange": exchange},
    }


async def _serve_connection(app: App, stream: Stream, peer: Any, keep_alive_timeout: float,
                            date: _Date) -> None:
    conn = Connection(stream)
    try:
        server = stream.sock.getsockname()[:2]
    except OSError:
        stream.close()
        return
    client = peer[:2] if isinstance(peer, tuple) else None
    try:
        # one cancel scope for the connection's life: its deadline is the keep-alive
        # limit while we wait for a request, none while we answer one (a long-poll)
        with trio.CancelScope() as idle:
            while not conn.closing:
                idle.deadline = trio.current_time() + keep_alive_timeout
                head = await conn.next_head()
                if head is None:
                    return
                idle.deadline = math.inf
                exchange = Exchange(conn, head, date)
                conn.closing = head.close
                await app(scope_of(head, server, client, exchange), exchange.receive,
                          exchange.send)
                if not exchange.finished:  # the app failed halfway: the reply cannot be framed
                    return
                if exchange.body_pending:
                    await exchange.discard_body()
    except BadMessage as exc:
        log.info("bad request from %s: %s", client, exc)
        with trio.move_on_after(1):
            try:
                await conn.send(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n"
                                b"connection: close\r\n\r\n")
            except ClientGone:
                pass
    except ClientGone:
        pass
    except Exception:  # a bug: log it, drop this connection, keep serving the others
        log.exception("connection from %s failed", client)
    finally:
        stream.close()


async def serve(app: App, listen: str, *, keep_alive_timeout: float = 75.0,
                task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``app`` on ``listen`` (host:port, port 0: any) until cancelled.

    ``task_status.started`` gets the bound URLs, as hypercorn's ``serve`` does.
    """
    host, port = split_listen(listen)
    listeners = rawio.listen(host, port)
    try:
        urls = []
        for listener in listeners:
            bound_host, bound_port = listener.getsockname()[:2]
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            urls.append(f"http://{shown}:{bound_port}")
        date = _Date()

        async def handler(stream: Stream, peer: Any) -> None:
            await _serve_connection(app, stream, peer, keep_alive_timeout, date)

        async with trio.open_nursery() as nursery:
            for listener in listeners:
                nursery.start_soon(rawio.accept_loop, listener, handler, nursery)
            task_status.started(urls)
    finally:
        for listener in listeners:
            trio.lowlevel.notify_closing(listener)
            listener.close()
