"""Relaying ``/openwx/*?client=NAME`` to that client's worker, streaming both ways.

The request body is passed on as it arrives (uploads are not buffered) and the
response is relayed chunk by chunk as the worker sends it (long-polls, avatars),
with the worker's status and headers unchanged (JSONP, CORS, ``image/jpg`` pass
through). If the caller goes away, the upstream request is cancelled.

Where the original answered an empty HTTP 404 (worker not listening, crashed,
too slow; reference F.5), we answer JSON: 503 ``client not running`` (with the
supervisor state), 504 on timeout, 502 if the worker broke the connection.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import trio

log = logging.getLogger(__name__)

Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]

# headers that describe one hop, not the message (RFC 9110 7.6.1), plus Host
_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"proxy-authorization", b"proxy-authenticate",
})


class ClientGone(Exception):
    """The caller disconnected while we were still reading its request."""


class UpstreamFailed(Exception):
    """The worker could not be reached or failed before answering."""

    def __init__(self, http_status: int, status: str) -> None:
        super().__init__(status)
        self.http_status = http_status
        self.status = status


def _request_has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        name = name.lower()
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        more = message.get("more_body", False)
        body = message.get("body", b"")
        if body:
            yield body


class Proxy:
    """One pooled HTTP client shared by every proxied request."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def relay(self, scope: dict[str, Any], receive: Receive, send: Send, port: int) -> None:
        """Send the request to 127.0.0.1:port and relay the answer; raises UpstreamFailed
        (before anything was sent to the caller) so the app can answer JSON."""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = raw_path + (b"?" + scope["query_string"] if scope.get("query_string") else b"")
        url = httpx.URL(f"http://127.0.0.1:{port}").copy_with(raw_path=target)
        content = _request_body(receive) if _request_has_body(scope["headers"]) else None
        request = self.http.build_request(scope["method"], url, headers=headers, content=content)
        try:
            response = await self.http.send(request, stream=True)
        except ClientGone:
            return
        except httpx.ConnectError as exc:
            raise UpstreamFailed(503, "client not running (connection refused)") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamFailed(504, "client did not answer in time") from exc
        except httpx.TransportError as exc:
            raise UpstreamFailed(502, f"client connection failed: {type(exc).__name__}") from exc
        try:
            await self._relay_response(response, receive, send)
        finally:
            with trio.CancelScope(shield=True):
                await response.aclose()

    async def _relay_response(self, response: httpx.Response, receive: Receive, send: Send) -> None:
        out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP]
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": out_headers})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            try:
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.TransportError as exc:
                log.warning("upstream broke mid-response: %s", exc)
                raise  # the caller sees a truncated response, as the worker sent it
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            nursery.cancel_scope.cancel()


async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    """The request body is fully read by now: the next message can only be a disconnect."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return
