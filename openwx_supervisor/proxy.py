"""The supervisor's HTTP client to its workers: health probes and the proxy relay.

``/openwx/*?client=NAME`` is relayed to that client's worker by ``relay.py``,
bytes in, bytes out, streaming both ways, over the lean server of ``httpd.py``
(the proxy hot path; the figures that justify leaving hypercorn/httpcore there
are in ``httpd.py`` and ``systemd/README.md``). Where the original answered an
empty HTTP 404 (worker not listening, crashed, too slow; reference F.5), the app
answers JSON: 503 ``client not running`` (with the supervisor state), 504 on
timeout, 502 if the worker broke the connection.

The health probes stay on httpcore (the transport under httpx; a few requests a
second at most): no client-side cookie jar, which would carry one worker's cookies
to the others, all being 127.0.0.1.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpcore

from .relay import RelayPool, UpstreamFailed

Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]

__all__ = ["Receive", "Send", "Upstream", "UpstreamFailed"]


class Upstream:
    """The supervisor's one way to its workers: plain HTTP/1.1 on 127.0.0.1, pooled.

    Used by the health probes (:meth:`get`) and the proxy (:meth:`relay`).
    """

    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        # never speaks TLS: a context that trusts nothing, instead of loading the CA bundle
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
            max_connections=None, max_keepalive_connections=16, keepalive_expiry=60.0)
        self._relay = RelayPool(read_timeout)

    async def aclose(self) -> None:
        self._relay.close()
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
        """Relay the request of ``scope`` (served by ``httpd.serve``) to 127.0.0.1:port and
        the reply back; raises UpstreamFailed before anything was sent to the caller, so
        that the app can answer JSON."""
        exchange = scope["extensions"]["openwx.exchange"]
        query = scope["query_string"]
        target = scope["raw_path"] + (b"?" + query if query else b"")
        await self._relay.relay(exchange, target, port)
