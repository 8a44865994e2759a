"""One web WeChat session: credentials, cookies, sync keys and the request helpers.

A :class:`Session` is what the protocol functions in ``webwx`` take as their first
argument.  It holds the httpx client (whose transport maps hosts, see
:mod:`.hosts`), the credentials from the ticket exchange (uin, sid, skey,
pass_ticket), the account's :class:`~.hosts.Hosts`, and the two sync keys that
web WeChat keeps apart (§6.2).  It knows nothing of policy: retries, pacing and
re-login belong to :mod:`openwx_worker.client`.

:class:`SavedSession` is the JSON kept in the cookie file
(``mojo_weixin_cookie_{account}.dat``) so a restarted worker can resume without a
scan, or at least ask for a push login (it carries the uin and the cookies).
"""

from __future__ import annotations

import random
import time
from typing import Any, TypeVar

import httpx
import msgspec

from openwx_worker.errors import ProtocolError

from .errors import check_ret, check_status, translated
from .hosts import DEFAULT_MAIN_HOST, Hosts, WeChatTransport
from .payloads import BaseRequest, Reply, SyncKey, decode, encode

T = TypeVar("T", bound=Reply)

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
# Long polls (login, synccheck) are held ~25 s by the server; read a bit longer.
LONG_POLL_TIMEOUT = 35.0
REQUEST_TIMEOUT = 30.0


class Credentials(msgspec.Struct, kw_only=True):
    """What the ticket exchange (webwxnewloginpage) hands out."""

    uin: str
    sid: str
    skey: str = ""
    pass_ticket: str = ""


class SavedCookie(msgspec.Struct, kw_only=True):
    name: str
    value: str
    domain: str = ""
    path: str = "/"


class SavedSession(msgspec.Struct, kw_only=True):
    """Contents of the cookie file: enough to resume, or to ask for a push login."""

    version: int = 1
    main_host: str = DEFAULT_MAIN_HOST
    credentials: Credentials | None = None
    user_name: str = ""
    cookies: list[SavedCookie] = msgspec.field(default_factory=list)
    sync_key: SyncKey | None = None
    check_key: SyncKey | None = None

    def to_bytes(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> SavedSession | None:
        """Decode the cookie file; ``None`` when it is empty or not ours."""
        try:
            return msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None

    @property
    def uin(self) -> str:
        if self.credentials:
            return self.credentials.uin
        return next((c.value for c in self.cookies if c.name == "wxuin"), "")


def open_http(base: str | None = None) -> httpx.AsyncClient:
    """The httpx client for one account (close it with ``async with``)."""
    return httpx.AsyncClient(
        transport=WeChatTransport(base),
        timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=10.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def new_device_id() -> str:
    """``e`` + 15 random digits (fresh per request, like the official client)."""
    return "e" + "".join(random.choices("0123456789", k=15))


def new_client_msg_id() -> str:
    """17-digit id: ms timestamp + 4 random digits, as the official client makes it.

    Use :meth:`Session.next_client_msg_id` for sends: it never repeats an id.
    """
    return f"{now_ms()}{random.randrange(10000):04d}"


class Session:
    """The live state of one login; its fields change as WeChat hands out new values."""

    def __init__(self, http: httpx.AsyncClient, hosts: Hosts | None = None, *, uos: bool = False):
        self.http = http
        self.hosts = hosts or Hosts.for_main(DEFAULT_MAIN_HOST)
        self.uos = uos
        self.credentials: Credentials | None = None
        self.user_name = ""  # self UserName, from webwxinit
        self.sync_key = SyncKey()  # for the next webwxsync
        self.check_key = SyncKey()  # for the next synccheck
        self.invite_start_count = 40
        self._last_client_msg_id = 0

    def next_client_msg_id(self) -> str:
        """A ClientMsgId in the official 17-digit form that this process never repeats.

        The server de-duplicates by ClientMsgId (a retry must reuse its id), so two
        different messages must never share one: ids are strictly increasing.
        """
        candidate = int(new_client_msg_id())
        self._last_client_msg_id = max(candidate, self._last_client_msg_id + 1)
        return str(self._last_client_msg_id)

    # ------------------------------------------------------------ credentials

    @property
    def creds(self) -> Credentials:
        if self.credentials is None:
            raise RuntimeError("session has no credentials (not logged in)")
        return self.credentials

    def base_request(self) -> BaseRequest:
        c = self.creds
        return BaseRequest(
            uin=int(c.uin or 0), sid=c.sid, skey=c.skey,
            device_id="" if self.uos else new_device_id(),
        )

    def data_ticket(self) -> str:
        """The ``webwx_data_ticket`` cookie, needed for uploads and file downloads."""
        for cookie in self.http.cookies.jar:
            if cookie.name == "webwx_data_ticket":
                return cookie.value or ""
        return ""

    def set_keys(self, sync_key: SyncKey, check_key: SyncKey | None = None) -> None:
        """Store new keys; a key with no items never replaces a good one (as M does).

        A reply without a SyncCheckKey falls back to its SyncKey for synccheck, so
        the check key never stays behind (which would make synccheck spin).
        """
        if sync_key.items:
            self.sync_key = sync_key
        if check_key is not None and check_key.items:
            self.check_key = check_key
        elif sync_key.items:
            self.check_key = sync_key

    def clear(self) -> None:
        """Forget the login (keys, credentials, cookies): the session is over."""
        self.credentials = None
        self.user_name = ""
        self.sync_key = SyncKey()
        self.check_key = SyncKey()
        self.http.cookies.clear()

    # ------------------------------------------------------------ persistence

    def save(self) -> SavedSession:
        cookies = [
            SavedCookie(name=c.name, value=c.value or "", domain=c.domain, path=c.path)
            for c in self.http.cookies.jar
        ]
        return SavedSession(
            main_host=self.hosts.main, credentials=self.credentials, user_name=self.user_name,
            cookies=cookies, sync_key=self.sync_key if self.sync_key.items else None,
            check_key=self.check_key if self.check_key.items else None,
        )

    def restore(self, saved: SavedSession) -> None:
        self.hosts = Hosts.for_main(saved.main_host)
        self.credentials = saved.credentials
        self.user_name = saved.user_name
        self.http.cookies.clear()
        for c in saved.cookies:
            self.http.cookies.set(c.name, c.value, domain=c.domain, path=c.path)
        self.sync_key = saved.sync_key or SyncKey()
        self.check_key = saved.check_key or SyncKey()

    # ------------------------------------------------------------ requests

    def query(self, **extra: Any) -> dict[str, Any]:
        """Common query parameters: pass_ticket (double-encoded like the official
        client, since httpx encodes the already-encoded value) and lang."""
        params: dict[str, Any] = {"lang": "zh_CN"}
        if self.credentials and self.credentials.pass_ticket:
            params["pass_ticket"] = self.credentials.pass_ticket
        params.update(extra)
        return params

    async def post_json(
        self, name: str, body: msgspec.Struct | dict, reply_type: type[T], *,
        role: str = "main", params: dict[str, Any] | None = None,
        http_timeout: float | None = None,
    ) -> T:
        """POST a JSON body to a ``webwx*`` endpoint; decode and check the reply."""
        url = self.hosts.url(role, name)
        with translated(name):
            response = await self.http.post(
                url, params=self.query(**(params or {})), content=encode(body),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=http_timeout if http_timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        return self.check_reply(response, name, reply_type)

    async def get_json(
        self, name: str, reply_type: type[T], *, params: dict[str, Any] | None = None,
        role: str = "main",
    ) -> T:
        url = self.hosts.url(role, name)
        with translated(name):
            response = await self.http.get(url, params=self.query(**(params or {})))
        return self.check_reply(response, name, reply_type)

    @staticmethod
    def check_reply(response: httpx.Response, name: str, reply_type: type[T]) -> T:
        check_status(response, name)
        try:
            reply = decode(reply_type, response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolError(f"{name}: undecodable reply ({exc})") from exc
        check_ret(reply.base_response.ret, reply.base_response.err_msg)
        return reply
