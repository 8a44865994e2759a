"""WeChat host families, and the one place where they meet ``--wechat-base``.

Web WeChat spreads one account over five host roles (web-protocol.md §1): *login*
(jslogin and the QR poll), *qr* (the QR image, always ``login.weixin.qq.com``),
*main* (every ``webwx*`` API call), *file* (uploads and attachment downloads) and
*push* (synccheck only).  The main host is chosen by the server at login: it is the
host of the ``redirect_uri`` in the login poll's 200 answer, and the file and push
hosts are derived from it with the official table.  Mixing hosts breaks key calls,
so the rest of the client only ever asks a :class:`Hosts` value for a URL.

Every URL the protocol layer builds is a real ``https://<wechat host>/...`` URL.
:class:`WeChatTransport` is the only code that knows about ``--wechat-base``: when
a base is given, it sends each request to that base instead while keeping the
original host in the ``Host`` header, so the simulator can serve every role from
one port and the host logic above stays exercised in tests.  Cookies are matched
by httpx on the original URL (the transport runs after the cookie jar), so their
domains behave as they would against the real hosts.  A plain http:// base (the
simulator) is served by the one-write transport of :mod:`openwx_worker.post_transport`,
which sends each request as built to the base's address: nothing is rebuilt per request.
"""

from __future__ import annotations

import httpx
import msgspec

from openwx_worker.post_transport import PlainHTTPTransport

QR_HOST = "login.weixin.qq.com"
DEFAULT_MAIN_HOST = "wx.qq.com"
API_PATH = "/cgi-bin/mmwebwx-bin/"

# (substring of the main host, login, file, push); first match wins (§1.1).
_DERIVATION: tuple[tuple[str, str, str, str], ...] = (
    ("wx2.qq.com", "login.wx2.qq.com", "file.wx2.qq.com", "webpush.wx2.qq.com"),
    ("wx8.qq.com", "login.wx8.qq.com", "file.wx8.qq.com", "webpush.wx8.qq.com"),
    ("qq.com", "login.wx.qq.com", "file.wx.qq.com", "webpush.wx.qq.com"),
    ("web2.wechat.com", "login.web2.wechat.com", "file.web2.wechat.com", "webpush.web2.wechat.com"),
    ("wechat.com", "login.web.wechat.com", "file.web.wechat.com", "webpush.web.wechat.com"),
)


class Hosts(msgspec.Struct, frozen=True):
    """The host names one session talks to."""

    main: str
    login: str
    file: str
    push: str
    qr: str = QR_HOST

    @classmethod
    def for_main(cls, main: str) -> Hosts:
        """Derive the login/file/push hosts from the main host (the official table).

        A host outside the table (a private deployment) gets Mojo::Weixin's rule:
        the role name prefixed to the main host.
        """
        main = main.lower()
        for needle, login, file, push in _DERIVATION:
            if needle in main:
                return cls(main=main, login=login, file=file, push=push)
        return cls(main=main, login=f"login.{main}", file=f"file.{main}", push=f"webpush.{main}")

    @classmethod
    def from_redirect(cls, redirect_uri: str) -> Hosts:
        """The account's hosts, from the login poll's ``redirect_uri``."""
        host = httpx.URL(redirect_uri).host
        return cls.for_main(host or DEFAULT_MAIN_HOST)

    def url(self, role: str, name: str) -> str:
        """``https://<host of role>/cgi-bin/mmwebwx-bin/<name>``."""
        return f"https://{getattr(self, role)}{API_PATH}{name}"


class WeChatTransport(httpx.AsyncBaseTransport):
    """Send WeChat requests either to the real hosts or all to one base URL.

    With ``base`` (e.g. ``http://127.0.0.1:8123``) the scheme, host and port of every
    request are replaced by the base's, the path and query are kept, and the
    ``Host`` header keeps naming the WeChat host.  Without it requests go out as
    built (HTTPS to the real hosts).  The wrapped transport is owned and closed here;
    by default it is httpx's own, or for a plain http:// base a
    :class:`~openwx_worker.post_transport.PlainHTTPTransport` that is handed each
    request unchanged with the base's address (the Host header httpx built from the
    WeChat URL is already the one to keep).
    """

    def __init__(self, base: str | None = None, inner: httpx.AsyncBaseTransport | None = None):
        self._base = httpx.URL(base) if base else None
        self._plain: PlainHTTPTransport | None = None
        if inner is None and self._base is not None and self._base.scheme == "http":
            inner = self._plain = PlainHTTPTransport()
            self._address = (self._base.host, self._base.port or 80)
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._plain is not None:
            return await self._plain.send_to(self._address, request)
        if self._base is None:
            return await self._inner.handle_async_request(request)
        original_host = request.url.netloc.decode("ascii")
        url = request.url.copy_with(
            scheme=self._base.scheme, host=self._base.host, port=self._base.port
        )
        headers = request.headers.copy()
        headers["Host"] = original_host
        routed = httpx.Request(
            request.method, url, headers=headers, stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(routed)

    async def aclose(self) -> None:
        await self._inner.aclose()
