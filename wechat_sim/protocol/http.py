"""A minimal request/response pair over ASGI, and the host families of web-protocol.md 1.1.

A request names its target host either by the Host header or by an absolute-form target
(`GET http://wx2.qq.com/cgi-bin/... HTTP/1.1`, RFC 9112 3.2.2, sent by clients that use the
simulator as their HTTP proxy; hypercorn passes such a target through as the ASGI `path`).
A real WeChat host name puts the simulator in *named* mode (real names in redirect_uri,
host families checked, cookie domains); any other host (127.0.0.1:port) is *direct* mode
(every role on one address, URLs built from that address, host-only cookies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec

MAIN_HOSTS = ("wx.qq.com", "wx2.qq.com", "wx8.qq.com", "web.wechat.com", "web2.wechat.com")
QR_HOSTS = ("login.weixin.qq.com", "login.wechat.com")
PREFIXES = {"login.": "login", "file.": "file", "webpush.": "push"}
# The ~2016 naming (web-protocol.md 1.1, "older naming"); the pairing with main hosts by the
# "2" suffix is inferred.
OLD_HOSTS = {
    "webpush.weixin.qq.com": ("push", "wx.qq.com"),
    "webpush2.weixin.qq.com": ("push", "wx2.qq.com"),
    "file2.wx.qq.com": ("file", "wx2.qq.com"),
    "webpush.wechat.com": ("push", "web.wechat.com"),
    "webpush2.wechat.com": ("push", "web2.wechat.com"),
    "file.wechat.com": ("file", "web.wechat.com"),
    "file2.wechat.com": ("file", "web2.wechat.com"),
}
WECHAT_DOMAINS = ("qq.com", "wechat.com", "wechatapp.com")


@dataclass(frozen=True)
class HostInfo:
    """What the addressed host means: a role of a main host (named) or the sim's own address."""

    named: bool
    role: str = "any"  # "login" | "main" | "file" | "push" | "none" | "any" (direct mode)
    main: str = ""  # the main host family ("" for QR hosts and direct mode)


def classify(host: str) -> HostInfo:
    name = host.lower().rsplit(":", 1)[0] if not host.startswith("[") else host.lower()
    name = name.rstrip(".")  # a fully qualified "wx.qq.com." is the same host
    if name in MAIN_HOSTS:
        return HostInfo(True, "main", name)
    if name in QR_HOSTS:
        return HostInfo(True, "login", "")
    for prefix, role in PREFIXES.items():
        if name.startswith(prefix) and name[len(prefix) :] in MAIN_HOSTS:
            return HostInfo(True, role, name[len(prefix) :])
    if name in OLD_HOSTS:
        role, main = OLD_HOSTS[name]
        return HostInfo(True, role, main)
    if any(name == d or name.endswith("." + d) for d in WECHAT_DOMAINS):
        return HostInfo(True, "none")  # a WeChat name that serves nothing: every route 404s
    return HostInfo(False)


def derived(main: str, role: str) -> str:
    """login./file./webpush. host of a main host (prefixing gives the table's names)."""
    return {
        "main": main,
        "login": "login." + main,
        "file": "file." + main,
        "push": "webpush." + main,
    }[role]


@dataclass
class Request:
    method: str
    scheme: str
    host: str  # as addressed, with port if any
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    hostinfo: HostInfo
    absolute_form: bool = False
    _query: dict[str, str] | None = None
    _cookies: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters by lower-cased name (12.3: clients disagree on case); first wins."""
        if self._query is None:
            self._query = {}
            for k, v in parse_qsl(self.query_string, keep_blank_values=True):
                self._query.setdefault(k.lower(), v)
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            self._cookies = {}
            for part in self.headers.get("cookie", "").split(";"):
                name, eq, value = part.strip().partition("=")
                if eq and name:
                    self._cookies.setdefault(name, value.strip('"'))
        return self._cookies

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def url_for(self, role: str, main: str) -> str:
        """Base URL of a role: the real host name in named mode, our own address otherwise.

        Named URLs are https like the real service's, except for a client that addressed us
        in absolute form with http (it uses the sim as an HTTP proxy and cannot CONNECT).
        """
        if self.hostinfo.named:
            scheme = self.scheme if self.absolute_form else "https"
            return f"{scheme}://{derived(main, role)}"
        return self.base_url


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def with_headers(self, headers: list[tuple[str, str]]) -> Response:
        self.headers.extend(headers)
        return self

    @classmethod
    def text(cls, text: str, content_type: str = "text/plain", status: int = 200) -> Response:
        return cls(status, text.encode(), content_type)

    @classmethod
    def js(cls, text: str) -> Response:
        return cls(200, text.encode(), "text/javascript")

    @classmethod
    def json(cls, obj: object, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, msgspec.json.encode(obj), content_type)


async def read_request(scope: dict, receive) -> Request:
    """Build a Request from an ASGI http scope, reading the whole body first."""
    chunks = []
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            break
        chunks.append(event.get("body", b""))
        if not event.get("more_body"):
            break
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    path = scope["path"]
    raw = scope.get("raw_path") or b""
    if raw.startswith((b"http://", b"https://")):
        path = raw.decode("latin-1")
    scheme = scope.get("scheme", "http")
    host = headers.get("host", "")
    absolute = path.startswith(("http://", "https://"))
    if absolute:  # absolute-form target
        parts = urlsplit(path)
        scheme, host, path = parts.scheme, parts.netloc, unquote(parts.path) or "/"
    if not host and scope.get("server"):
        addr, port = scope["server"]
        host = f"{addr}:{port}"
    return Request(
        method=scope["method"].upper(),
        scheme=scheme,
        host=host,
        path=path,
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=b"".join(chunks),
        hostinfo=classify(host),
        absolute_form=absolute,
    )


async def send_response(send, response: Response) -> None:
    headers = [(b"content-type", response.content_type.encode())]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
