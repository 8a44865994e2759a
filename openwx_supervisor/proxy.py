"""Relaying ``/openwx/*?client=NAME`` to that client's worker, streaming both ways.

The request body is passed on as it arrives (uploads are not buffered) and the
response is relayed chunk by chunk as the worker sends it (long-polls, avatars),
with the worker's status and headers unchanged (JSONP, CORS, ``image/jpg`` pass
through). If the caller goes away, the upstream request is cancelled.

Where the original answered an empty HTTP 404 (worker not listening, crashed,
too slow; reference F.5), we answer JSON: 503 ``client not running`` (with the
supervisor state), 504 on timeout, 502 if the worker broke the connection.

Built on httpcore (the transport under httpx) rather than an httpx client: a
proxy wants bytes in, bytes out, and no client-side cookie jar (one shared jar
would carry one worker's cookies to the others, all being 127.0.0.1). It also
halves the per-request cost and the memory of the supervisor.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpcore
import trio

log = logging.getLogger(__name__)

Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]

# headers that describe one hop, not the message (RFC 9110 7.6.1), plus Host
_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"proxy-authorization", b"proxy-authenticate",
})

# our server (hypercorn) writes its own Date and Server: do not send two of each
_RESPONSE_DROP = _HOP | {b"date", b"server"}


class ClientGone(Exception):
    """The caller disconnected while we were still reading its request."""


class UpstreamFailed(Exception):
    """The worker could not be reached or failed before answering."""

    def __init__(self, http_status: int, status: str) -> None:
        super().__init__(status)
        self.http_status = http_status
        self.status = status


def _request_framing(headers: list[tuple[bytes, bytes]]) -> tuple[bool, list[tuple[bytes, bytes]]]:
    """(has a body, the framing header to send upstream)."""
    for name, value in headers:
        name = name.lower()
        if name == b"content-length":
            return value.strip() not in (b"", b"0"), [(b"content-length", value.strip())]
        if name == b"transfer-encoding":
            return True, [(b"transfer-encoding", b"chunked")]
    return False, []


async def _request_body(receive: Receive, done: trio.Event) -> AsyncIterator[bytes]:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        more = message.get("more_body", False)
        body = message.get("body", b"")
        if body:
            yield body
    done.set()


class Upstream:
    """The supervisor's one HTTP client: plain HTTP/1.1 to workers on 127.0.0.1, pooled.

    Used by the health probes (:meth:`get`) and the proxy (:meth:`relay`).
    """

    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        # never speaks TLS: a context that trusts nothing, instead of loading the CA bundle
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
            max_connections=None, max_keepalive_connections=64, keepalive_expiry=60.0)

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def get(self, port: int, target: str, headers: list[tuple[bytes, bytes]] = ()) -> bytes:
        """GET a small reply from a worker (raises httpcore errors; 5 s per I/O step)."""
        timeout = 5.0
        response = await self._pool.request(
            b"GET", httpcore.URL(scheme=b"http", host=b"127.0.0.1", port=port, target=target),
            headers=[(b"host", f"127.0.0.1:{port}".encode()), *headers],
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout,
                                    "pool": timeout}})
        return response.content

    async def relay(self, scope: dict[str, Any], receive: Receive, send: Send, port: int) -> None:
        """Send the request to 127.0.0.1:port and relay the answer; raises UpstreamFailed
        (before anything was sent to the caller) so the app can answer JSON."""
        has_body, framing = _request_framing(scope["headers"])
        headers = [(b"host", f"127.0.0.1:{port}".encode()), *framing,
                   *((k, v) for k, v in scope["headers"]
                     if k.lower() not in _HOP and k.lower() != b"content-length")]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = raw_path + (b"?" + scope["query_string"] if scope.get("query_string") else b"")
        url = httpcore.URL(scheme=b"http", host=b"127.0.0.1", port=port, target=target)
        timeout = self.read_timeout
        extensions = {"timeout": {"connect": 10.0, "read": timeout, "write": timeout,
                                  "pool": 10.0}}
        body_done = trio.Event()
        content = _request_body(receive, body_done) if has_body else None
        if content is None:
            body_done.set()
        request = httpcore.Request(scope["method"].encode(), url, headers=headers,
                                   content=content, extensions=extensions)
        failure: UpstreamFailed | None = None
        response: httpcore.Response | None = None
        # one nursery for the whole exchange: a caller that hangs up while the worker
        # holds its long-poll cancels the upstream request too (nothing is consumed for
        # a caller who is gone)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, body_done, nursery.cancel_scope)
            try:
                response = await self._pool.handle_async_request(request)
            except ClientGone:
                pass
            except httpcore.ConnectError:
                failure = UpstreamFailed(503, "client not running (connection refused)")
            except httpcore.TimeoutException:
                failure = UpstreamFailed(504, "client did not answer in time")
            except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
                failure = UpstreamFailed(502, f"client connection failed: {type(exc).__name__}")
            if response is not None:
                try:
                    await _relay_response(response, send)
                except UpstreamFailed as exc:  # raised before anything was sent
                    failure = exc
                finally:
                    with trio.CancelScope(shield=True):
                        await response.aclose()
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure


async def _relay_response(response: httpcore.Response, send: Send) -> None:
    """Relay status, headers and body; UpstreamFailed if the body breaks before we start."""
    headers = [(k, v) for k, v in response.headers if k.lower() not in _RESPONSE_DROP]
    length = next((int(v) for k, v in response.headers
                   if k.lower() == b"content-length" and v.strip().isdigit()), None)
    chunks = response.aiter_stream().__aiter__()
    try:
        first = await anext(chunks, b"")
        complete = length is not None and len(first) >= length  # the common case: one small reply
        if complete:
            async for extra in chunks:  # reads the end of the message: the connection is reusable
                first += extra
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise UpstreamFailed(502, f"client connection failed: {type(exc).__name__}") from exc
    except httpcore.TimeoutException as exc:
        raise UpstreamFailed(504, "client did not answer in time") from exc
    start = {"type": "http.response.start", "status": response.status, "headers": headers}
    if complete:
        await send(start)
        await send({"type": "http.response.body", "body": first, "more_body": False})
        return
    await send(start)
    await send({"type": "http.response.body", "body": first, "more_body": True})
    try:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException) as exc:
        # the caller sees a truncated response (the connection is closed), as the worker sent it
        log.warning("worker broke its reply off: %s", exc)
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _cancel_on_disconnect(receive: Receive, body_done: trio.Event,
                                scope: trio.CancelScope) -> None:
    """Once the request body is read, the next message can only be a disconnect."""
    await body_done.wait()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
