"""Login endpoints (web-protocol.md section 3): jslogin, QR image, login long-poll, ticket
exchange (200 and 301 forms, desktop variant), push login, the index-page probe, logout.

Byte formats follow 12.4 exactly; clients match them with literal regexes.
"""

from __future__ import annotations

import base64
import email.utils
from urllib.parse import parse_qsl, quote

import trio

from wechat_sim import blobs
from wechat_sim.errors import SimError
from wechat_sim.model import LoginState, Session
from wechat_sim.protocol.http import Request, Response
from wechat_sim.world import World

APPID = "wx782c26e4c19acffb"
QR_TEXT = "https://login.weixin.qq.com/l/"
YEAR = 365 * 86400


def _uin_cookie(req: Request) -> int | None:
    for name in ("wxuin", "last_wxuin"):
        value = req.cookies.get(name, "")
        if value.isdigit():
            return int(value)
    return None


async def jslogin(world: World, req: Request) -> Response:
    appid = req.query.get("appid", "")
    if appid and appid != APPID:
        return Response.js('window.QRLogin.code = 400; window.QRLogin.uuid = "";')
    desktop = "mod=desktop" in req.query.get("redirect_uri", "")
    login = world.new_login(desktop=desktop, cookie_uin=_uin_cookie(req))
    return Response.js(f'window.QRLogin.code = 200; window.QRLogin.uuid = "{login.uuid}";')


async def qrcode(world: World, req: Request) -> Response:
    uuid = req.path.rsplit("/", 1)[-1]
    if uuid not in world.logins:
        return Response.text("unknown uuid", status=404)
    data = blobs.qr_jpeg(QR_TEXT + uuid)
    return Response(200, data, "image/jpeg")


async def qr_text(world: World, req: Request) -> Response:
    uuid = req.path.rsplit("/", 1)[-1]
    return Response.text(f"<html><body>Scan {QR_TEXT}{uuid} with WeChat</body></html>", "text/html")


def _poll_answer(world: World, req: Request, uuid: str, *, timed_out: bool) -> str | None:
    """The answer for this poll now, or None to keep holding."""
    login = world.get_login(uuid)
    if login is None or login.state in (LoginState.EXPIRED, LoginState.DONE):
        return "window.code=400;"
    if login.state is LoginState.CONFIRMED:
        account = world.account(login.account or "")
        base = req.url_for("main", account.main_host)
        uri = (
            f"{base}/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket={login.ticket}"
            f"&uuid={login.uuid}&lang=zh_CN&scan={login.scan_time}"
        )
        return f'window.code=200;\nwindow.redirect_uri="{uri}";'
    if login.state is LoginState.SCANNED and (not login.scan_reported or timed_out):
        login.scan_reported = True
        if req.query.get("loginicon") != "true":  # the avatar only when asked for (3.3)
            return "window.code=201;"
        avatar = base64.b64encode(blobs.jpeg(login.account or "", (46, 46))).decode()
        return f"window.code=201;window.userAvatar = 'data:img/jpg;base64,{avatar}';"
    if timed_out:
        return "window.code=408;"
    return None


async def login_poll(world: World, req: Request) -> Response:
    """Long-poll: answers as soon as the uuid's state has news, else 408 after the hold."""
    uuid = req.query.get("uuid", "")
    deadline = world.now() + world.config.login_hold
    while True:
        answer = _poll_answer(world, req, uuid, timed_out=world.now() >= deadline)
        if answer is not None:
            return Response.js(answer)
        login = world.logins[uuid]
        wake = deadline
        change = world.next_change_at(login)
        if change is not None:
            wake = min(wake, change)
        with trio.move_on_at(wake):
            await world.logins_changed.wait()


def _expires(world: World, seconds: int) -> str:
    return email.utils.formatdate(world.unix() + seconds, usegmt=True)


def cookie_domains(req: Request) -> tuple[str, str]:
    """(main, parent) cookie domains: `wx2.qq.com` and `.qq.com` in named mode, none in
    direct mode (host-only cookies on the sim's own address)."""
    main = req.hostinfo.main if req.hostinfo.named else ""
    parent = "." + ".".join(main.split(".")[-2:]) if main else ""
    return main, parent


def set_cookie(world: World, name: str, value: str, domain: str, seconds: int) -> tuple[str, str]:
    attrs = f"{name}={value}; Path=/; Expires={_expires(world, seconds)}"
    if domain:
        attrs += f"; Domain={domain}"
    return ("set-cookie", attrs)


def session_cookies(world: World, req: Request, session: Session) -> list[tuple[str, str]]:
    """Set-Cookie headers of the ticket exchange, scoped like the real service (3.4)."""
    account = world.account(session.account)
    main, parent = cookie_domains(req)
    now = world.unix()

    def cookie(name: str, value: str, domain: str, seconds: int) -> tuple[str, str]:
        return set_cookie(world, name, value, domain, seconds)

    return [
        cookie("wxuin", str(session.uin), main, 86400),
        cookie("wxsid", session.sid, main, 86400),
        cookie("wxloadtime", str(now), main, 86400),
        cookie("mm_lang", "zh_CN", main, 86400),
        cookie("webwx_data_ticket", session.data_ticket, parent, 86400),
        cookie("webwxuvid", account.uvid, main, 10 * YEAR),
        cookie("webwx_auth_ticket", account.auth_ticket, main, 10 * YEAR),
    ]


async def newloginpage(world: World, req: Request) -> Response:
    """Ticket exchange: 200 with fun=new&version=v2, else 301 without Location (3.4)."""
    q = req.query
    status = 200 if q.get("fun") == "new" and q.get("version") == "v2" else 301
    desktop_headers = bool(req.headers.get("client-version")) and bool(req.headers.get("extspam"))
    login = world.get_login(q.get("uuid", ""))
    try:
        if login is not None and req.hostinfo.named and login.account:
            if world.account(login.account).main_host != req.hostinfo.main:
                raise SimError(1, "wrong host for this account")
        session = world.exchange_ticket(
            q.get("uuid", ""), q.get("ticket", ""), desktop_headers=desktop_headers
        )
    except SimError as exc:
        body = f"<error><ret>{exc.ret}</ret><message>{exc.message}</message></error>"
        return Response(status, body.encode(), "text/plain;charset=utf-8")
    body = (
        f"<error><ret>0</ret><message></message><skey>{session.skey}</skey>"
        f"<wxsid>{session.sid}</wxsid><wxuin>{session.uin}</wxuin>"
        f"<pass_ticket>{quote(session.pass_ticket, safe='')}</pass_ticket>"
        "<isgrayscale>1</isgrayscale></error>"
    )
    return Response(
        status, body.encode(), "text/plain;charset=utf-8", session_cookies(world, req, session)
    )


async def pushloginurl(world: World, req: Request) -> Response:
    uin = req.query.get("uin", "") or req.cookies.get("wxuin", "")
    try:
        if not uin.isdigit():
            raise SimError(1, "bad uin")
        account = world.account_by_uin(int(uin))
        sent_ticket = req.cookies.get("webwx_auth_ticket")
        if account is not None and sent_ticket and sent_ticket != account.auth_ticket:
            raise SimError(1, "auth ticket mismatch")
        login = world.push_login(int(uin), desktop=req.query.get("mod") == "desktop")
    except SimError:
        return Response.text('{"ret":"1","msg":"push login refused","uuid":""}')
    return Response.text(f'{{"ret":"0","msg":"all ok","uuid":"{login.uuid}"}}')


def _cookie_session(world: World, req: Request) -> Session | None:
    uin, sid = req.cookies.get("wxuin", ""), req.cookies.get("wxsid", "")
    if not uin.isdigit() or not sid:
        return None
    try:
        return world.find_session(int(uin), sid)
    except SimError:
        return None


async def index(world: World, req: Request) -> Response:
    """The web page; `isLogin` tells a cookie-restoring client whether to skip QR (3.7)."""
    live = _cookie_session(world, req) is not None
    flag = '!!"1"' if live else '!!""'
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>微信网页版</title>'
        f"<script>window.MMCgi = {{isLogin : {flag}}}</script></head><body></body></html>"
    )
    return Response.text(page, "text/html; charset=utf-8")


async def logout(world: World, req: Request) -> Response:
    """webwxlogout (GET or POST, form sid/uin or cookies): redirects to the login page."""
    form = {k.lower(): v for k, v in parse_qsl(req.body.decode("latin-1"), keep_blank_values=True)}
    uin = form.get("uin") or req.cookies.get("wxuin", "")
    sid = form.get("sid") or req.cookies.get("wxsid", "")
    skey = req.query.get("skey", "")
    if uin.isdigit() and sid:
        try:
            session = world.find_session(int(uin), sid)
            if not skey or skey == session.skey:
                world.logout(session)
        except SimError:
            pass
    main = req.hostinfo.main or "wx.qq.com"
    location = req.url_for("main", main) + "/?&lang=zh_CN"
    return Response(302, b"", "text/html", [("location", location)])
