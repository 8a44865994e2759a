"""Relaying one request to a worker as bytes, over pooled keep-alive connections.

The request head is rewritten (Host, hop-by-hop headers dropped) and its body
forwarded as it arrives, framing included (uploads are never buffered). The
reply is forwarded as the worker wrote it (status line, headers minus hop-by-hop
ones, body framing; JSONP, CORS, ``image/jpg``, Date and Server pass through),
chunk by chunk (long-polls, avatars); ``wire.py`` only finds where it ends, so the
upstream connection can be reused.

Failures before the first reply byte raise ``UpstreamFailed`` (the app answers
JSON: 503 refused, 504 too slow, 502 broken); after it, the caller's connection
is closed so that it sees a truncated reply, as the worker sent it. A reply that
takes longer than ``FAST_WAIT`` is awaited while watching the caller's socket: a
caller who hangs up cancels the upstream request (a long-poll is not left
running for nobody; reference H.4). Quick replies skip that watch, which would
cost a task per request.

A pooled connection the worker has closed meanwhile is detected before use (it
reads as ready), and a request that fails on a reused connection before any
reply byte is sent again once on a new one, if its body was already in hand.
"""

from __future__ import annotations

import logging

import trio

from . import rawio
from .httpd import ClientGone, Connection, Exchange
from .rawio import Broken, Stream
from .wire import (
    HEAD_END,
    MAX_HEAD,
    BadMessage,
    ChunkedScanner,
    Head,
    parse_response_head,
    without_hop_headers,
)

log = logging.getLogger(__name__)

FAST_WAIT = 0.05  # seconds a reply may take before we also watch the caller for a hang-up


class UpstreamFailed(Exception):
    """The worker could not be reached or failed before answering."""

    def __init__(self, http_status: int, status: str) -> None:
        super().__init__(status)
        self.http_status = http_status
        self.status = status


class _Retry(Exception):
    """A reused connection failed before the reply began: try a new one."""


class RelayPool:
    """Keep-alive connections to the workers on 127.0.0.1, by port; relays requests."""

    def __init__(self, read_timeout: float, *, connect_timeout: float = 10.0,
                 keepalive_expiry: float = 60.0, max_idle: int = 64) -> None:
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.keepalive_expiry = keepalive_expiry
        self.max_idle = max_idle
        self._idle: dict[int, list[tuple[Stream, float]]] = {}
        self._idle_count = 0

    def close(self) -> None:
        for streams in self._idle.values():
            for stream, _ in streams:
                stream.close()
        self._idle.clear()
        self._idle_count = 0

    async def _acquire(self, port: int) -> tuple[Stream, bool]:
        """(a connection, whether it was reused)."""
        idle = self._idle.get(port)
        now = trio.current_time()
        while idle:
            stream, since = idle.pop()
            self._idle_count -= 1
            if now - since < self.keepalive_expiry and not stream.peer_closed():
                return stream, True
            stream.close()  # expired, or closed by the worker (EOF reads as ready)
        try:
            with trio.fail_after(self.connect_timeout):
                return await rawio.connect("127.0.0.1", port), False
        except trio.TooSlowError:
            raise UpstreamFailed(504, "client did not answer in time") from None
        except OSError:
            raise UpstreamFailed(503, "client not running (connection refused)") from None

    def _release(self, port: int, stream: Stream) -> None:
        if self._idle_count >= self.max_idle:
            stream.close()
            return
        self._idle.setdefault(port, []).append((stream, trio.current_time()))
        self._idle_count += 1

    async def _recv(self, stream: Stream, conn: Connection) -> bytes:
        """Next bytes from the worker (b"" at its EOF); ClientGone if the caller hangs up
        meanwhile; trio.TooSlowError after read_timeout of silence."""
        with trio.move_on_after(FAST_WAIT):
            return await stream.recv()
        gone = False
        data = b""
        broken: Broken | None = None
        # (exceptions are kept out of the nursery: it would wrap them in a group)
        with trio.fail_after(self.read_timeout):
            async with trio.open_nursery() as nursery:
                async def watch() -> None:
                    nonlocal gone
                    await conn.wait_gone()
                    gone = True
                    nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
                try:
                    data = await stream.recv()
                except Broken as exc:
                    broken = exc
                nursery.cancel_scope.cancel()
        if gone:
            raise ClientGone
        if broken is not None:
            raise broken
        return data

    async def relay(self, exchange: Exchange, target: bytes, port: int) -> None:
        """Relay the request of ``exchange`` to 127.0.0.1:port and the reply back."""
        head = exchange.head
        out = b"\r\n".join([
            head.method + b" " + target + b" HTTP/" + head.version,
            b"host: 127.0.0.1:%d" % port, *without_hop_headers(head.headers)]) + HEAD_END
        replayable = exchange.body_in_buffer()
        if replayable and exchange.body_pending:
            out += b"".join([chunk async for chunk in exchange.raw_body()])  # no I/O: buffered
        try:
            await self._attempt(exchange, out, port, retry=replayable)
        except _Retry:
            await self._attempt(exchange, out, port, retry=False)

    async def _attempt(self, exchange: Exchange, out: bytes, port: int, *, retry: bool) -> None:
        """One try; ``retry``: the whole request is in ``out``, so it may be sent again."""
        stream, reused = await self._acquire(port)
        keep = False
        try:
            try:
                await stream.send_all(out)
                if exchange.body_pending:  # streamed: an upload, as it arrives
                    try:
                        async for chunk in exchange.raw_body():
                            await stream.send_all(chunk)
                    except BadMessage as exc:  # a broken chunked upload: hang up on it
                        log.info("bad request body: %s", exc)
                        raise ClientGone from exc
                data = await self._recv(stream, exchange.conn)
            except (Broken, OSError) as exc:
                if reused and retry:
                    raise _Retry from exc
                raise UpstreamFailed(502, f"client connection failed: {type(exc).__name__}"
                                     ) from exc
            except trio.TooSlowError:
                raise UpstreamFailed(504, "client did not answer in time") from None
            if not data:
                if reused and retry:
                    raise _Retry
                raise UpstreamFailed(502, "client connection failed: closed before replying")
            keep = await self._reply(stream, data, exchange)
        finally:
            if keep:
                self._release(port, stream)
            else:
                stream.close()

    async def _reply(self, stream: Stream, data: bytes, exchange: Exchange) -> bool:
        """Relay the reply whose first bytes are ``data``; True if the connection is reusable."""
        conn = exchange.conn
        while True:
            while (end := data.find(HEAD_END)) < 0:
                if len(data) > MAX_HEAD:
                    raise UpstreamFailed(502, "client connection failed: reply head too large")
                more = await self._read_or_fail(stream, conn)
                data += more
            try:
                reply = parse_response_head(data[:end], exchange.head.method)
            except BadMessage as exc:
                raise UpstreamFailed(502, f"client connection failed: {exc}") from None
            data = data[end + 4:]
            if reply.status >= 200:
                break  # (1xx interim replies are ours to skip: we never forward Expect or
                #        Upgrade, so a worker has no reason to send one)
        if reply.close and reply.length is None and not reply.chunked:
            conn.closing = True  # the body ends with the connection: so must the caller's
        lines = [reply.start, *without_hop_headers(reply.headers)]
        if conn.closing:
            lines.append(b"connection: close")
        exchange.relayed = True
        return await self._body(stream, reply, b"\r\n".join(lines) + HEAD_END, data, exchange)

    async def _read_or_fail(self, stream: Stream, conn: Connection) -> bytes:
        """Bytes of the reply head (nothing sent to the caller yet: failures are JSON)."""
        try:
            more = await self._recv(stream, conn)
        except Broken as exc:
            raise UpstreamFailed(502, f"client connection failed: {type(exc).__name__}") from exc
        except trio.TooSlowError:
            raise UpstreamFailed(504, "client did not answer in time") from None
        if not more:
            raise UpstreamFailed(502, "client connection failed: closed while replying")
        return more

    async def _body(self, stream: Stream, reply: Head, first: bytes, data: bytes,
                    exchange: Exchange) -> bool:
        conn = exchange.conn
        left = reply.length
        scanner = ChunkedScanner() if reply.chunked else None
        pending = first  # the head goes out with the first body bytes: one write
        try:
            while True:
                if scanner is not None:
                    take = scanner.feed(data)
                    done = scanner.done
                elif left is not None:
                    take = min(left, len(data))
                    left -= take
                    done = left == 0
                else:
                    take, done = len(data), False
                extra = len(data) > take
                piece = data if not extra else data[:take]
                if pending or piece:
                    await conn.send(pending + piece if pending else piece)
                    pending = b""
                if done:
                    exchange.finished = True
                    return not reply.close and not extra
                data = await self._recv(stream, conn)
                if not data:
                    if scanner is None and left is None:  # delimited by the connection's end
                        exchange.finished = True
                    else:
                        log.warning("worker broke its reply off (%s)", reply.start.decode(
                            "latin-1"))
                    return False
        except (Broken, trio.TooSlowError, BadMessage) as exc:
            # the caller sees a truncated response (its connection is closed)
            log.warning("worker broke its reply off: %r", exc)
            return False

