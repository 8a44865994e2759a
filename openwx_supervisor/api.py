"""The controller API: the management endpoints, ``/healthz``, and the proxy route.

An ASGI app, served by the supervisor's own lean server (``httpd.py``; the proxy
route relays bytes through it, see ``relay.py``). Management endpoints accept GET and POST
(the original registered GET only, so a POST fell through to the worker,
reference F.2/H.8) with parameters from the query string, a form body or a JSON
body. Every error is a JSON reply ``{"code": n, "status": "..."}``; the codes of
the original keep their meaning, ours are new numbers:

====  =====================================================================
code  status
====  =====================================================================
0     success / client already exists
1     client not found (no ``client=``) / client not exists (unknown name)
2     no available port
5     max clients exceed
6     option not allowed (start_client: a key outside the whitelist)
7     invalid option value (start_client: the worker's loader refused it)
8     client not running (proxy; HTTP 503, with ``supervisor_state``)
9     no qrcode (get_qrcode; HTTP 404: not waiting for a scan)
10    the worker timed out or broke the connection (proxy; HTTP 504/502)
-1    api not found (HTTP 403)
====  =====================================================================
"""

from __future__ import annotations

import hmac
import json
import logging
import urllib.parse
from typing import Any

import msgspec
import trio

from openwx_worker.config import ConfigError

from .arbiter import Arbiter, TooManyClients
from .config import UnknownOptions, client_option_keys
from .httpd import ClientGone
from .ports import NoPortAvailable
from .proxy import Receive, Send, Upstream, UpstreamFailed
from .states import WatcherState
from .store import qrcode_path

log = logging.getLogger(__name__)

S = WatcherState
MANAGEMENT = frozenset({"start_client", "stop_client", "check_client", "get_qrcode"})
_CORS = [(b"access-control-allow-origin", b"*")]
_PREFLIGHT = [
    *_CORS,
    (b"access-control-allow-methods", b"OPTIONS, HEAD, GET, POST"),
    (b"access-control-allow-headers",
     b"X-Requested-With, X-Auth-Token, Content-Type, Content-Length, Authorization"),
]
_MAX_FORM = 1 << 20
_encoder = msgspec.json.Encoder(order="sorted")


class Reply(Exception):
    """A finished JSON answer, raised from anywhere in a handler."""

    def __init__(self, body: dict[str, Any], status: int = 200) -> None:
        super().__init__(body.get("status"))
        self.body = body
        self.status = status


class _CallerGone(Exception):
    """The caller disconnected before we could answer: nobody to reply to."""


async def _send_json(send: Send, body: dict[str, Any], status: int = 200) -> None:
    data = _encoder.encode(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
        *_CORS]})
    await send({"type": "http.response.body", "body": data})


async def _read_body(receive: Receive, limit: int = _MAX_FORM) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _CallerGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Reply({"code": -1, "status": "request body too large"}, 413)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _header(scope: dict, name: bytes) -> str:
    for k, v in scope["headers"]:
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


async def _params(scope: dict, receive: Receive) -> dict[str, str]:
    """Query string, then a form or JSON body (later wins); repeated keys keep the last."""
    params = dict(urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"),
                                         keep_blank_values=True, encoding="utf-8"))
    body = await _read_body(receive)
    ctype = _header(scope, b"content-type").split(";")[0].strip().lower()
    if body and ctype == "application/x-www-form-urlencoded":
        params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body and ctype == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise Reply({"code": -1, "status": "request body is not valid JSON"}) from None
        if not isinstance(data, dict):
            raise Reply({"code": -1, "status": "JSON body must be an object"})
        for key, value in data.items():
            if isinstance(value, bool):
                params[key] = "true" if value else "false"
            elif isinstance(value, list):
                params[key] = ",".join(map(str, value))
            elif value is not None:
                params[key] = str(value)
    return params


class ControllerApp:
    """ASGI callable; ``arbiter`` does the work, ``proxy`` relays the rest."""

    def __init__(self, arbiter: Arbiter, proxy: Upstream, *, access_token: str | None = None) -> None:
        self.arbiter = arbiter
        self.proxy = proxy
        self.access_token = access_token

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._route(scope, receive, tracking_send)
        except Reply as reply:
            await _send_json(send, reply.body, reply.status)
        except (_CallerGone, ClientGone):
            return
        except Exception:  # a bug: log it, answer it, keep serving
            log.exception("%s %s failed", scope["method"], scope["path"])
            if not started:
                await _send_json(send, {"code": -1, "status": "internal error"}, 500)

    async def _route(self, scope: dict, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 200, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD", "POST"):
            raise Reply({"code": -1, "status": "api not found"}, 403)
        query = dict(urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"),
                                            keep_blank_values=True))
        if not self._authorized(scope, query):
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain"), *_CORS]})
            await send({"type": "http.response.body", "body": b"auth failure"})
            return
        if path == "/healthz":
            await _read_body(receive)
            raise Reply(self._health())
        if not path.startswith("/openwx/"):
            raise Reply({"code": -1, "status": "api not found"}, 403)
        endpoint = path[len("/openwx/"):]
        if endpoint in MANAGEMENT:
            params = await _params(scope, receive)
            await getattr(self, endpoint)(params, send)
            return
        await self._proxy(scope, receive, send, query.get("client", ""))

    def _authorized(self, scope: dict, query: dict[str, str]) -> bool:
        if not self.access_token:
            return True
        given = query.get("access_token", "")
        auth = _header(scope, b"authorization")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        given = given or _header(scope, b"x-auth-token")
        return hmac.compare_digest(given.encode(), self.access_token.encode())

    # -- management endpoints ---------------------------------------------------------

    def _known(self, params: dict[str, str]) -> str:
        name = params.get("client", "")
        if not name:
            raise Reply({"code": 1, "status": "client not found"})
        if name not in self.arbiter.watchers:
            raise Reply({"code": 1, "status": "client not exists"})
        return name

    def _record(self, name: str) -> dict[str, Any]:
        w = self.arbiter.watchers[name]
        return {**w.options, "client": name, "account": name, "pid": w.pid, "port": w.port,
                "supervisor_state": w.state.value, "restarts": w.restarts}

    async def start_client(self, params: dict[str, str], send: Send) -> None:
        name = params.pop("client", "")
        if not name:
            raise Reply({"code": 1, "status": "client not found"})
        params.pop("account", None)  # always the client name
        if self.access_token and params.get("access_token") == self.access_token:
            del params["access_token"]  # it authenticated this call; not meant for the worker
        try:
            started = self.arbiter.start_client(name, params)
        except UnknownOptions as exc:
            raise Reply({"code": 6, "client": name, "status": f"{exc}",
                         "allowed": sorted(client_option_keys())}) from None
        except ConfigError as exc:
            raise Reply({"code": 7, "client": name, "status": f"invalid option: {exc}"}) from None
        except TooManyClients:
            raise Reply({"code": 5, "status": "max clients exceed"}) from None
        except NoPortAvailable:
            raise Reply({"code": 2, "status": "no available port", "client": name}) from None
        if not started:
            raise Reply({"code": 0, "status": "client already exists", **self._record(name)})
        with trio.move_on_after(5):
            await self.arbiter.watchers[name].wait_spawned()
        raise Reply({"code": 0, "status": "success", **self._record(name)})

    async def stop_client(self, params: dict[str, str], send: Send) -> None:
        name = self._known(params)
        record = self._record(name)
        await self.arbiter.stop_client(name)
        raise Reply({"code": 0, "status": "success", **record, "supervisor_state": "stopped"})

    async def check_client(self, params: dict[str, str], send: Send) -> None:
        names = [self._known(params)] if params.get("client") else list(self.arbiter.watchers)
        files = await trio.to_thread.run_sync(
            lambda: [self.arbiter.worker_state(name) for name in names])
        entries = [self._entry(name, state) for name, state in zip(names, files, strict=True)
                   if name in self.arbiter.watchers]  # (one may have been stopped meanwhile)
        raise Reply({"code": 0, "status": "success", "client": entries})

    def _entry(self, name: str, state_file: dict[str, Any] | None) -> dict[str, Any]:
        """The worker's state file object plus port (as the original), plus our fields."""
        w = self.arbiter.watchers[name]
        entry: dict[str, Any] = dict(state_file or {})
        alive = w.state in (S.STARTING, S.RUNNING) and w.pid is not None
        if not alive:
            entry["state"] = "stop"
        elif entry.get("pid") != w.pid:  # the file is from an earlier life
            entry["state"] = "init"
        uptime = w.uptime
        entry.update({
            "client": name, "account": name, "port": w.port, "pid": w.pid if alive else None,
            "supervisor_state": w.state.value, "restarts": w.restarts,
            "uptime": round(uptime) if uptime is not None else None,
            "last_exit": w.last_exit, "reason": w.last_reason,
        })
        return entry

    async def get_qrcode(self, params: dict[str, str], send: Send) -> None:
        name = self._known(params)
        path = qrcode_path(self.arbiter.tmpdir_of(name), name)
        try:
            data = await trio.Path(path).read_bytes()
        except OSError:
            raise Reply({"code": 9, "status": "no qrcode (not waiting for a scan)"}, 404) from None
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"image/jpg"), (b"cache-control", b"no-cache"),
            (b"content-length", str(len(data)).encode()), *_CORS]})
        await send({"type": "http.response.body", "body": data})

    def _health(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for w in self.arbiter.watchers.values():
            counts[w.state.value] = counts.get(w.state.value, 0) + 1
        return {"code": 0, "status": "ok", "clients": len(self.arbiter.watchers), "states": counts}

    # -- everything else: the worker's API ---------------------------------------------

    async def _proxy(self, scope: dict, receive: Receive, send: Send, name: str) -> None:
        if not name:
            raise Reply({"code": 1, "status": "client not found"})
        w = self.arbiter.watchers.get(name)
        if w is None:
            raise Reply({"code": 1, "status": "client not exists"})
        if w.state not in (S.STARTING, S.RUNNING) or w.port is None:
            raise Reply({"code": 8, "status": "client not running", "client": name,
                         "supervisor_state": w.state.value, "reason": w.last_reason}, 503)
        try:
            await self.proxy.relay(scope, receive, send, w.port)
        except UpstreamFailed as exc:
            code = 8 if exc.http_status == 503 else 10
            raise Reply({"code": code, "status": exc.status, "client": name,
                         "supervisor_state": w.state.value}, exc.http_status) from None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
