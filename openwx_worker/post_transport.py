"""A lean httpx transport for post_api over plain http: one kept-alive connection, one write.

Delivery keeps the webhook's order by posting one item at a time, so its throughput is
one round trip per item. httpx's default transport (httpcore) writes the request
headers and the body in two separate sends and goes through a connection pool built for
concurrency; on loopback that doubles the wake-ups of both processes and capped
delivery below the 2,000 events/s target (scripts/bench_delivery.py prints both). This
transport plugs into httpx at its documented extension point (`AsyncBaseTransport`,
one method) and does only what post_api needs: HTTP/1.1 (h11, the parser under
httpcore) over trio TCP, the whole request in one send, a few idle connections kept per
host:port. Everything else (https, and any URL when a proxy is configured in the
environment) goes to httpx's own transport.

The WeChat client uses it too when ``--wechat-base`` is a plain http:// URL (the
simulator): `send_to` sends a request exactly as built (its https://<wechat host> URL
gives the target and the Host header) to the base's address, so the requests of the
sync loop are not rebuilt and cost one write each (webwx/hosts.py).

Errors are httpx's (ConnectError, ConnectTimeout, WriteError, ReadTimeout,
RemoteProtocolError ...) so callers cannot tell the difference. Timeouts come from the
request's httpx timeout and are trio deadlines, so tests run them on a MockClock.
"""

from __future__ import annotations

import select
import urllib.request

import h11
import httpx
import trio

_READ_SIZE = 65536
# Idle connections kept per address: delivery needs one; the WeChat client has a
# long poll (synccheck) open while other calls (sends, contact look-ups) come and go.
_MAX_IDLE = 4


class _Connection:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)

    def is_stale(self) -> bool:
        """An idle keep-alive connection that is readable was closed by the server
        (or sent garbage): do not reuse it (the same check httpcore makes)."""
        try:
            fd = self.stream.socket.fileno()
            if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                return bool(poller.poll(0))
            readable, _, _ = select.select([fd], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self.stream.aclose()


def _deadline(timeouts: dict, name: str) -> float:
    value = timeouts.get(name)
    return trio.current_time() + value if value is not None else float("inf")


class PlainHTTPTransport(httpx.AsyncBaseTransport):
    """http:// requests here, anything else to `fallback` (see the module docstring)."""

    def __init__(self, fallback: httpx.AsyncBaseTransport | None = None) -> None:
        self._fallback = fallback or httpx.AsyncHTTPTransport()
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            return await self._fallback.handle_async_request(request)
        return await self.send_to((request.url.host, request.url.port or 80), request)

    async def send_to(self, address: tuple[str, int], request: httpx.Request) -> httpx.Response:
        """Send `request` over plain HTTP to `address` (host, port), whatever its URL's
        scheme and host: the target is the URL's path and query, the headers (Host
        included) go as built. For a front end that routes by the Host header."""
        timeouts = request.extensions.get("timeout", {})
        conn = await self._idle_connection(address)
        if conn is None:
            conn = await self._connect(request, address, timeouts)
        try:
            response, reusable = await self._round_trip(conn, request, timeouts)
        except BaseException:
            await conn.aclose()
            raise
        idle = self._idle.setdefault(address, [])
        if reusable and len(idle) < _MAX_IDLE:
            conn.h11.start_next_cycle()
            idle.append(conn)
        else:
            await conn.aclose()
        return response

    async def _idle_connection(self, address: tuple[str, int]) -> _Connection | None:
        """The most recently used idle connection to `address` that is still open."""
        idle = self._idle.get(address)
        while idle:
            conn = idle.pop()
            if not conn.is_stale():
                return conn
            await conn.aclose()
        return None

    async def _connect(self, request: httpx.Request, key: tuple[str, int],
                       timeouts: dict) -> _Connection:
        try:
            with trio.fail_at(_deadline(timeouts, "connect")):
                stream = await trio.open_tcp_stream(*key)
        except trio.TooSlowError:
            raise httpx.ConnectTimeout("connect timed out", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return _Connection(stream)

    async def _round_trip(self, conn: _Connection, request: httpx.Request,
                          timeouts: dict) -> tuple[httpx.Response, bool]:
        body = await request.aread()
        try:
            data = conn.h11.send(h11.Request(
                method=request.method, target=request.url.raw_path,
                headers=list(request.headers.raw)))
            if body:
                data += conn.h11.send(h11.Data(data=body))
            data += conn.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        try:
            with trio.fail_at(_deadline(timeouts, "write")):
                await conn.stream.send_all(data)
        except trio.TooSlowError:
            raise httpx.WriteTimeout("write timed out", request=request) from None
        except (OSError, trio.BrokenResourceError) as exc:
            raise httpx.WriteError(str(exc), request=request) from exc

        head: h11.Response | None = None
        content = bytearray()
        while True:
            event = await self._next_event(conn, request, timeouts)
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            # h11.InformationalResponse (1xx) is skipped
        assert head is not None
        response = httpx.Response(
            head.status_code, headers=list(head.headers), content=bytes(content),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason})
        reusable = conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
        return response, reusable

    async def _next_event(self, conn: _Connection, request: httpx.Request,
                          timeouts: dict) -> h11.Event:
        deadline = _deadline(timeouts, "read")
        while True:
            try:
                event = conn.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a complete response.",
                        request=request)
                return event
            try:
                with trio.fail_at(deadline):
                    chunk = await conn.stream.receive_some(_READ_SIZE)
            except trio.TooSlowError:
                raise httpx.ReadTimeout("read timed out", request=request) from None
            except (OSError, trio.BrokenResourceError) as exc:
                raise httpx.ReadError(str(exc), request=request) from exc
            conn.h11.receive_data(chunk)  # b"" tells h11 the server closed the connection

    async def aclose(self) -> None:
        idle, self._idle = [c for conns in self._idle.values() for c in conns], {}
        for conn in idle:
            await conn.aclose()
        await self._fallback.aclose()


def post_transport() -> httpx.AsyncBaseTransport | None:
    """The transport post_api should use, or None for httpx's default: when a proxy is
    configured in the environment, httpx's own handling of it is kept."""
    if urllib.request.getproxies():
        return None
    return PlainHTTPTransport()
