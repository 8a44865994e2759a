"""Login: QR uuid, QR image, the scan/confirm poll, ticket exchange, push login.

Protocol only (web-protocol.md §3); what to do with each answer (new QR, give up,
state changes, events) is decided by :mod:`openwx_worker.client_login`.

The answers here are JavaScript assignments and one XML line, parsed leniently
(whitespace-insensitive) because the real server and the simulator differ in
spacing only.  The ticket exchange accepts both forms the server uses: 200 (with
``fun=new&version=v2``) and 301 without a Location header, body read either way.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from enum import IntEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from openwx_worker.errors import ProtocolError, wechat_error

from .errors import check_status, translated
from .hosts import DEFAULT_MAIN_HOST, QR_HOST, Hosts
from .payloads import PushLoginReply, decode
from .session import LONG_POLL_TIMEOUT, Credentials, Session, now_ms

APP_ID = "wx782c26e4c19acffb"
# The desktop (UOS) client's request headers (§3.5).  The extspam value is an opaque
# blob the desktop shell sends; the server only checks that it is present.
UOS_CLIENT_VERSION = "2.0.0"
# Only the documented opening of the blob is kept here (web-protocol.md §3.5).
UOS_EXTSPAM = "Go8FCIkFEokFCggwMDAwMDAwMRAG"

_JS_PAIR = re.compile(r"window\.([\w.]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^;\s]+)\s*;?")


class PollCode(IntEnum):
    WAITING = 408
    SCANNED = 201
    CONFIRMED = 200
    EXPIRED = 400
    ERROR = 500


class PollResult(msgspec.Struct):
    code: int
    redirect_uri: str = ""
    avatar: str = ""


def parse_js(text: str) -> dict[str, str]:
    """``window.a.b = "x"; window.c=1;`` → ``{"a.b": "x", "c": "1"}`` (quotes stripped)."""
    out: dict[str, str] = {}
    for key, value in _JS_PAIR.findall(text):
        if value[:1] in "\"'":
            value = value[1:-1]
        out[key] = value
    return out


def qr_text(uuid: str) -> str:
    """The string encoded in the login QR code (what the phone scans)."""
    return f"https://{QR_HOST}/l/{uuid}"


def _redirect_target(uos: bool) -> str:
    target = f"https://{DEFAULT_MAIN_HOST}/cgi-bin/mmwebwx-bin/webwxnewloginpage"
    return target + ("?mod=desktop" if uos else "")


async def get_uuid(session: Session) -> str:
    """jslogin → a fresh login uuid (§3.1)."""
    params = {
        "appid": APP_ID, "redirect_uri": _redirect_target(session.uos), "fun": "new",
        "lang": "zh_CN", "_": now_ms(),
    }
    url = f"https://{session.hosts.login}/jslogin"
    with translated("jslogin"):
        response = await session.http.get(url, params=params)
    check_status(response, "jslogin")
    values = parse_js(response.text)
    if values.get("QRLogin.code") != "200" or not values.get("QRLogin.uuid"):
        raise ProtocolError(f"jslogin: no uuid in {response.text[:200]!r}")
    return values["QRLogin.uuid"]


async def get_qr_image(session: Session, uuid: str) -> bytes:
    """The QR code as the server renders it (a JPEG), §3.2."""
    url = f"https://{session.hosts.qr}/qrcode/{uuid}"
    with translated("qrcode"):
        response = await session.http.get(url)
    check_status(response, "qrcode")
    return response.content


async def poll_login(session: Session, uuid: str, tip: int) -> PollResult:
    """One long poll of the scan/confirm state (§3.3)."""
    params = {"loginicon": "true", "uuid": uuid, "tip": tip, "r": ~now_ms() & 0xFFFFFFFF,
              "_": now_ms()}
    url = f"https://{session.hosts.login}/cgi-bin/mmwebwx-bin/login"
    with translated("login poll"):
        response = await session.http.get(url, params=params, timeout=LONG_POLL_TIMEOUT)
    check_status(response, "login poll")
    values = parse_js(response.text)
    code = values.get("code", "")
    if not code.isdigit():
        raise ProtocolError(f"login poll: no code in {response.text[:200]!r}")
    return PollResult(code=int(code), redirect_uri=values.get("redirect_uri", ""),
                      avatar=values.get("userAvatar", ""))


def _exchange_url(redirect_uri: str) -> str:
    """redirect_uri plus ``fun=new&version=v2`` (which makes the server answer 200)."""
    parts = urlsplit(redirect_uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("fun", "version")]
    query += [("fun", "new"), ("version", "v2")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_login_xml(body: str) -> tuple[int, dict[str, str]]:
    """``<error><ret>0</ret>…</error>`` → (ret, {tag: text})."""
    try:
        root = ET.fromstring(body.strip())
    except ET.ParseError as exc:
        raise ProtocolError(f"newloginpage: not XML: {body[:200]!r}") from exc
    values = {child.tag: (child.text or "").strip() for child in root}
    ret = values.get("ret", "")
    if not ret.lstrip("-").isdigit():
        raise ProtocolError(f"newloginpage: no ret in {body[:200]!r}")
    return int(ret), values


async def exchange_ticket(session: Session, redirect_uri: str) -> Credentials:
    """Follow the confirmed login's redirect_uri (§3.4): credentials and cookies.

    The redirect's host becomes the session's main host.  A non-zero ``ret``
    (1203: web login refused) raises the matching :class:`WeChatError`.
    """
    session.hosts = Hosts.from_redirect(redirect_uri)
    headers = {"Referer": f"https://{session.hosts.main}/"}
    if session.uos:
        headers.update({
            "client-version": UOS_CLIENT_VERSION, "extspam": UOS_EXTSPAM,
            "Referer": f"https://{session.hosts.main}/?&lang=zh_CN&target=t",
        })
    with translated("newloginpage"):
        response = await session.http.get(_exchange_url(redirect_uri), headers=headers)
    check_status(response, "newloginpage", allowed=(301, 302))
    ret, values = parse_login_xml(response.text)
    if ret != 0:
        raise wechat_error(ret, values.get("message", ""))
    cookies = {c.name: c.value or "" for c in session.http.cookies.jar}
    uin = values.get("wxuin") or cookies.get("wxuin", "")
    sid = values.get("wxsid") or cookies.get("wxsid", "")
    if not (uin and sid):
        raise ProtocolError("newloginpage: no wxuin/wxsid in answer or cookies")
    creds = Credentials(uin=uin, sid=sid, skey=values.get("skey", ""),
                        pass_ticket=values.get("pass_ticket", ""))
    session.credentials = creds
    return creds


async def push_login(session: Session, uin: str) -> str | None:
    """Ask the phone to confirm a login without a scan (§3.6); the uuid to poll, or None."""
    url = session.hosts.url("main", "webwxpushloginurl")
    params: dict[str, str] = {"uin": uin}
    if session.uos:
        params["mod"] = "desktop"
    with translated("pushloginurl"):
        response = await session.http.get(url, params=params)
    check_status(response, "pushloginurl")
    try:
        reply = decode(PushLoginReply, response.content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if str(reply.ret) != "0" or not reply.uuid:
        return None
    return reply.uuid
