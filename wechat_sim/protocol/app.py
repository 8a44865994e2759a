"""The ASGI app: one route table, host-family checks, error mapping, the lifespan scope.

`create_app(world)` holds no module state: every test gets its own world and app. Paths
under `/sim/` go to the control API (`wechat_sim.control`) on any host.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from wechat_sim import control
from wechat_sim.errors import SimError
from wechat_sim.model import SeenRequest
from wechat_sim.protocol import downloads, login, media, ops, webwx, wire
from wechat_sim.protocol.faults import intercept
from wechat_sim.protocol.http import Request, Response, read_request, send_response
from wechat_sim.world import World

log = logging.getLogger(__name__)

Handler = Callable[[World, Request], Awaitable[Response]]
CGI = "/cgi-bin/mmwebwx-bin/"


@dataclass(frozen=True)
class Route:
    path: str  # exact path, or a prefix when it ends with "/"
    roles: frozenset[str]  # host roles that may serve it (named mode)
    handler: Handler
    methods: frozenset[str] = frozenset({"GET", "POST"})


def _r(path: str, roles: str, handler: Handler, methods: str = "GET POST") -> Route:
    return Route(path, frozenset(roles.split()), handler, frozenset(methods.split()))


ROUTES: tuple[Route, ...] = (
    _r("/jslogin", "login", login.jslogin),
    _r("/qrcode/", "login", login.qrcode, "GET"),
    _r("/l/", "login", login.qr_text, "GET"),
    _r(CGI + "login", "login", login.login_poll, "GET"),
    _r(CGI + "webwxnewloginpage", "main", login.newloginpage, "GET"),
    _r(CGI + "webwxpushloginurl", "main login", login.pushloginurl),
    _r(CGI + "webwxlogout", "main", login.logout),
    _r("/", "main", login.index, "GET"),
    _r(CGI + "webwxinit", "main", webwx.init, "POST"),
    _r(CGI + "webwxstatusnotify", "main", webwx.statusnotify, "POST"),
    _r(CGI + "webwxgetcontact", "main", webwx.getcontact),
    _r(CGI + "webwxbatchgetcontact", "main", webwx.batchgetcontact, "POST"),
    _r(CGI + "synccheck", "push", webwx.synccheck, "GET"),
    _r(CGI + "webwxsync", "main", webwx.sync, "POST"),
    _r(CGI + "webwxsendmsg", "main", webwx.sendmsg, "POST"),
    # media (media.py, downloads.py)
    _r(CGI + "webwxuploadmedia", "file", media.upload, "POST"),
    _r(CGI + "webwxsendmsgimg", "main", media.send_image, "POST"),
    _r(CGI + "webwxsendvideomsg", "main", media.send_video, "POST"),
    _r(CGI + "webwxsendemoticon", "main", media.send_emoticon, "POST"),
    _r(CGI + "webwxsendappmsg", "main", media.send_appmsg, "POST"),
    _r(CGI + "webwxgetmsgimg", "main", downloads.msgimg, "GET"),
    _r(CGI + "webwxgetvoice", "main", downloads.voice, "GET"),
    _r(CGI + "webwxgetvideo", "main", downloads.video, "GET"),
    _r(CGI + "webwxgetmedia", "file", downloads.media, "GET"),
    _r(CGI + "webwxgeticon", "main", downloads.icon, "GET"),
    _r(CGI + "webwxgetheadimg", "main", downloads.icon, "GET"),
    # operations (ops.py)
    _r(CGI + "webwxcreatechatroom", "main", ops.createchatroom, "POST"),
    _r(CGI + "webwxupdatechatroom", "main", ops.updatechatroom, "POST"),
    _r(CGI + "webwxoplog", "main", ops.oplog, "POST"),
    _r(CGI + "webwxverifyuser", "main", ops.verifyuser, "POST"),
    _r(CGI + "webwxrevokemsg", "main", ops.revokemsg, "POST"),
)


def find_route(routes: tuple[Route, ...], path: str) -> Route | None:
    for route in routes:
        if route.path == path or (
            route.path.endswith("/") and route.path != "/" and path.startswith(route.path)
        ):
            return route
    return None


class SimApp:
    """ASGI callable serving one world (protocol on every host, `/sim/` control API)."""

    def __init__(self, world: World, routes: tuple[Route, ...] = ROUTES) -> None:
        self.world = world
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        req = await read_request(scope, receive)
        if await intercept(self.world.faults, req, send):  # POST /sim/faults
            return
        response = await self._handle_until_disconnect(req, receive)
        if response is not None:
            log.debug("%s %s%s -> %s", req.method, req.host, req.path, response.status)
            if not req.path.startswith("/sim"):
                self.world.requests.append(
                    SeenRequest(trio.current_time(), req.method, req.host, req.path,
                                req.query_string, response.status)  # fmt: skip
                )
            await send_response(send, response)

    async def _handle_until_disconnect(self, req: Request, receive) -> Response | None:
        """Run the handler; a client that hangs up mid long-poll cancels it (None)."""
        result: list[Response] = []
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            result.append(await self.handle(req))
            nursery.cancel_scope.cancel()
        return result[0] if result else None

    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/sim/") or req.path == "/sim":
            return await control.handle(self.world, req)
        route = find_route(self.routes, req.path)
        if route is None:
            return Response.text(f"no such endpoint: {req.path}", status=404)
        if req.method not in route.methods:
            return Response.text(f"method {req.method} not allowed", status=405)
        if req.hostinfo.named and req.hostinfo.role not in route.roles:
            return Response.text(
                f"{req.path} is not served on {req.host} (needs a {'/'.join(sorted(route.roles))} host)",
                status=404,
            )
        try:
            return await route.handler(self.world, req)
        except SimError as exc:
            return Response.json(wire.error(exc.ret, exc.message))
        except Exception:
            log.exception("handler for %s failed", req.path)
            return Response.text("internal error", status=500)


def create_app(world: World) -> SimApp:
    return SimApp(world)
