"""The ASGI app: one route table, host-family checks, error mapping, the lifespan scope.

`create_app(world)` holds no module state: every test gets its own world and app. Paths
under `/sim/` go to the control API (`wechat_sim.control`) on any host.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from wechat_sim import control
from wechat_sim.errors import SimError
from wechat_sim.protocol import login, webwx, wire
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
)


def find_route(routes: tuple[Route, ...], path: str) -> Route | None:
    for route in routes:
        if route.path == path or (route.path.endswith("/") and route.path != "/" and path.startswith(route.path)):
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
        await send_response(send, await self.handle(req))

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
