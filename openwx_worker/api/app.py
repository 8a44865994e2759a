"""The ASGI application: routing, the edges, and the one place errors become answers.

``create_app(worker)`` returns an ASGI callable that hypercorn (trio worker) serves.
The worker object gives ``.client`` (a WeixinClient), ``.config`` (WorkerConfig),
``.events`` (EventLog) and ``.state``; the app reads them on every request, so a
client created or replaced after the app still works.

A request goes through, in order: the CORS preflight (``OPTIONS`` on any path, no
auth, as browsers never send credentials on a preflight), reading the whole body,
parameter parsing (``wire.py``), the ``_method`` override (``routed_method``), the
route table (unknown path: 404 JSON), the access token, the not-running gate (while the client is in a blocking state every
endpoint except get_client_info, stop_client and check_event answers at once with
code 300 naming the state; Mojo::Weixin queued the request and hung, reference B),
the endpoint's parameter Struct, the handler. Whatever is raised on the way is
turned into ``{"code","status"}`` in ``_answer_error``: a failed request is logged and
answered, never fatal.

The ASGI lifespan scope opens the app's nursery, which runs what outlives a
request (``async=1`` sends, ``id=@all`` broadcasts) and is cancelled at shutdown.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import trio

from . import codes, routes
from .codes import ApiError
from .control import current_state
from .endpoint import Context, Endpoint
from .errormap import api_error_from
from .event_api import CheckEventBuffer
from .openapi import build_openapi
from .params import convert
from .sent import KnownMedia, SentMessages
from .wire import (
    PREFLIGHT_HEADERS,
    ClientGone,
    Response,
    encode_json,
    error_response,
    header,
    jsonp_wrap,
    parse_params,
    read_body,
    send_response,
)

log = logging.getLogger("openwx_worker.api")

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

PREFIX = "/openwx/"
OPENAPI_PATH = "/openapi.json"
_BODY_OVERHEAD = 1024 * 1024  # multipart headers, base64 media_data in JSON, other fields


class ApiApp:
    """The Openwx API of one worker, as an ASGI application."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.endpoints: dict[str, Endpoint] = {e.name: e for e in routes.endpoints()}
        self.sent = SentMessages()
        self.media = KnownMedia()
        self.started = time.time()
        self._nursery: trio.Nursery | None = None
        self._openapi: bytes | None = None
        self._check_event = CheckEventBuffer()

    # ------------------------------------------------------------------ services

    @property
    def check_event(self) -> CheckEventBuffer:
        """The read position of cursor-less check_event calls (Mojo::Weixin's buffer)."""
        return self._check_event

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str) -> None:
        """Run ``fn(*args)`` after the answer, in the app's nursery; failures are logged."""
        if self._nursery is None:
            raise ApiError(codes.INTERNAL_ERROR, "background tasks need the ASGI lifespan")

        async def guarded() -> None:
            try:
                await fn(*args)
            except Exception:
                log.exception("background %s failed", name)

        self._nursery.start_soon(guarded, name=name)

    def body_limit(self) -> int:
        size_max = getattr(self.worker.config, "media_size_max", 20 * 1024 * 1024)
        return size_max * 4 // 3 + _BODY_OVERHEAD  # base64 in a JSON body is 4/3 larger

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            self._nursery = None
            nursery.cancel_scope.cancel()
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: dict, receive: Receive, send: Send) -> None:
        method = scope["method"]
        params: dict[str, str] = {}
        try:
            body = await read_body(receive, self.body_limit())
            if method == "OPTIONS":
                await send({"type": "http.response.start", "status": 200,
                            "headers": PREFLIGHT_HEADERS})  # fmt: skip
                await send({"type": "http.response.body", "body": b""})
                return
            params, files = parse_params(scope, body)
            method = routed_method(scope, method)
            resp = await self._dispatch(scope, method, params, files, receive)
        except ClientGone:
            return
        except Exception as exc:  # noqa: BLE001 - the one error edge
            resp = self._answer_error(scope, exc)
        resp = jsonp_wrap(resp, params)
        try:
            await send_response(send, resp, head=scope["method"] == "HEAD")
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                trio.BusyResourceError) as exc:  # the connection is gone or being closed
            log.debug("%s: answer not delivered: %r", scope.get("path"), exc)
            return
        if resp.after_send is not None:
            try:
                resp.after_send()
            except Exception:
                log.exception("%s: action after the answer failed", scope.get("path"))

    def _answer_error(self, scope: dict, exc: BaseException) -> Response:
        err = api_error_from(exc)
        where = f"{scope.get('method')} {scope.get('path')}"
        if err is None:
            log.error("%s failed", where, exc_info=exc)
            err = ApiError(codes.INTERNAL_ERROR, f"internal error: {type(exc).__name__}",
                           http_status=500)  # fmt: skip
        else:
            log.info("%s -> code %s: %s", where, err.code, err.status)
        return error_response(err)

    # ------------------------------------------------------------------ routing

    async def _dispatch(
        self, scope: dict, method: str, params: dict[str, str], files: list, receive: Receive
    ) -> Response:
        path: str = scope["path"]
        if method not in ("GET", "POST", "HEAD"):
            raise ApiError(codes.API_NOT_FOUND, f"method {method} not allowed", http_status=405)
        if path == OPENAPI_PATH:
            if self._openapi is None:
                self._openapi = encode_json(build_openapi(self.endpoints.values()))
            return Response(200, self._openapi)
        endpoint = self.endpoints.get(path[len(PREFIX):]) if path.startswith(PREFIX) else None
        if endpoint is None:
            raise ApiError(codes.API_NOT_FOUND, f"api not found: {path}", http_status=404)
        self._check_token(scope, params)
        if endpoint.needs_running:
            state = current_state(self.worker)
            if state != "running":
                raise ApiError(codes.NOT_RUNNING, f"client not running (state {state})",
                               state=state)  # fmt: skip
        args = convert(params, endpoint.params)
        ctx = Context(self, params, files, receive)
        result = await endpoint.handler(ctx, args)
        if isinstance(result, Response):
            return result
        return Response(200, encode_json(result))

    def _check_token(self, scope: dict, params: dict[str, str]) -> None:
        token = getattr(self.worker.config, "access_token", None)
        if not token:
            return
        given = None
        auth = header(scope, b"authorization")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif "access_token" in params:
            given = params["access_token"]
        else:
            given = header(scope, b"x-auth-token") or None
        if not given:
            raise ApiError(codes.AUTH_FAILURE, "access token missing", http_status=401)
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(codes.AUTH_FAILURE, "access token wrong", http_status=403)


def routed_method(scope: dict, method: str) -> str:
    """The method a request is routed by: a POST whose query string has ``_method``
    is routed as that method (reference 0; Mojolicious honours the override on POST
    only, from the query string only). Every endpoint takes GET and POST alike, so the
    override changes nothing for them; ``_method=PUT`` and the like get the 405 answer
    a PUT gets. HEAD stays HEAD (answered like GET, without a body)."""
    if method != "POST" or b"_method" not in scope.get("query_string", b""):
        return method
    query = parse_qs(scope["query_string"].decode("utf-8", "replace"))
    override = (query.get("_method") or [""])[-1].strip().upper()
    return override or method


def create_app(worker: Any) -> ApiApp:
    """The ASGI app serving ``/openwx/*`` and ``/openapi.json`` for ``worker``."""
    return ApiApp(worker)


__all__ = ["ApiApp", "create_app"]
