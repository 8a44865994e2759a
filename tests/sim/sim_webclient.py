"""A deliberately small web WeChat client for the simulator's tests, written from
web-protocol.md (regexes and request shapes as the reference's clients use them), not from
openwx_worker. Each method is one protocol call; the tests assert on the raw answers.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import httpx

ALICE = "wxid_alice0000000001"
BOB = "wxid_bob000000000002"
CGI = "/cgi-bin/mmwebwx-bin/"
JSLOGIN_RE = re.compile(r'window.QRLogin.code = (\d+); window.QRLogin.uuid = "(\S+?)";')
SYNCCHECK_RE = re.compile(r'^window.synccheck=\{retcode:"(\d+)",selector:"(\d+)"\}$')
XML_RE = re.compile(r"^<error>.*</error>$")


@dataclass
class Creds:
    skey: str
    sid: str
    uin: str
    pass_ticket: str  # as in the XML (percent-encoded)
    main: str  # base URL of the main host
    sync_key: dict = field(default_factory=dict)
    check_key: dict = field(default_factory=dict)
    user: dict = field(default_factory=dict)


def device_id() -> str:
    return "e" + "".join(random.choice("0123456789") for _ in range(15))


class WebClient:
    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http = http
        self.base = base  # where login calls go (login host or the sim's address)
        self.creds: Creds | None = None

    # -- login -------------------------------------------------------------------
    async def jslogin(self, redirect_uri: str | None = None) -> str:
        params = {"appid": "wx782c26e4c19acffb", "fun": "new", "lang": "zh_CN"}
        if redirect_uri:
            params["redirect_uri"] = redirect_uri
        r = await self.http.get(self.base + "/jslogin", params=params)
        m = JSLOGIN_RE.fullmatch(r.text)
        assert m and m.group(1) == "200", r.text
        return m.group(2)

    async def poll(self, uuid: str, tip: int = 1) -> tuple[int, str]:
        r = await self.http.get(
            self.base + CGI + "login",
            params={"loginicon": "true", "uuid": uuid, "tip": tip, "r": ~int(time.time() * 1000)},
        )
        m = re.match(r"window.code=(\d+);", r.text)
        assert m, r.text
        return int(m.group(1)), r.text

    async def control(self, method: str, path: str, json=None) -> httpx.Response:
        return await self.http.request(method, self.base + path, json=json)

    async def exchange(self, redirect_uri: str, *, v2: bool = True, headers=None) -> httpx.Response:
        url = redirect_uri + ("&fun=new&version=v2" if v2 else "")
        return await self.http.get(url, headers=headers or {})

    def take_xml(self, r: httpx.Response) -> Creds:
        body = r.text
        assert XML_RE.match(body), body
        vals = dict(re.findall(r"<(\w+)>([^<]*)</\1>", body))
        assert vals["ret"] == "0", body
        parts = urlsplit(str(r.request.url))
        self.creds = Creds(
            skey=vals["skey"], sid=vals["wxsid"], uin=vals["wxuin"],
            pass_ticket=vals["pass_ticket"], main=f"{parts.scheme}://{parts.netloc}",
        )  # fmt: skip
        return self.creds

    async def qr_login(self, account: str, *, v2: bool = True) -> Creds:
        uuid = await self.jslogin()
        assert (
            await self.control("POST", f"/sim/logins/{uuid}/scan", {"account": account})
        ).status_code == 200
        assert (await self.control("POST", f"/sim/logins/{uuid}/confirm")).status_code == 200
        code, body = await self.poll(uuid)
        if code == 201:
            code, body = await self.poll(uuid, tip=0)
        assert code == 200, body
        return self.take_xml(await self.exchange(redirect_of(body), v2=v2))

    async def log_in(self, account: str) -> WebClient:
        """QR login as `account` (scanned and confirmed through /sim/), then webwxinit."""
        await self.qr_login(account)
        assert (await self.init())["BaseResponse"]["Ret"] == 0
        return self

    # -- session -----------------------------------------------------------------
    def base_request(self) -> dict:
        c = self.creds
        assert c
        return {"Uin": int(c.uin), "Sid": c.sid, "Skey": c.skey, "DeviceID": device_id()}

    def pt(self) -> str:
        assert self.creds
        return quote(self.creds.pass_ticket, safe="")  # double-encoded, as the official client

    async def post(self, name: str, body: dict, **params) -> dict:
        assert self.creds
        params.setdefault("pass_ticket", self.pt())
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        r = await self.http.post(f"{self.creds.main}{CGI}{name}?{qs}", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    async def init(self) -> dict:
        data = await self.post("webwxinit", {"BaseRequest": self.base_request()}, r=1)
        if data["BaseResponse"]["Ret"] == 0:
            assert self.creds
            self.creds.sync_key = self.creds.check_key = data["SyncKey"]
            self.creds.user = data["User"]
        return data

    async def statusnotify(self) -> dict:
        me = self.creds.user["UserName"]  # type: ignore[union-attr]
        return await self.post(
            "webwxstatusnotify",
            {
                "BaseRequest": self.base_request(),
                "Code": 3,
                "FromUserName": me,
                "ToUserName": me,
                "ClientMsgId": int(time.time() * 1000),
            },  # fmt: skip
        )

    async def getcontact(self, seq: int = 0) -> dict:
        c = self.creds
        assert c
        r = await self.http.get(
            f"{c.main}{CGI}webwxgetcontact",
            params={"r": 1, "seq": seq, "skey": c.skey, "pass_ticket": unquote(c.pass_ticket)},
        )
        return r.json()

    async def batch(self, names: list[str]) -> dict:
        return await self.post(
            "webwxbatchgetcontact",
            {
                "BaseRequest": self.base_request(),
                "Count": len(names),
                "List": [{"UserName": n, "EncryChatRoomId": ""} for n in names],
            },  # fmt: skip
            type="ex",
            r=1,
        )

    def synckey_str(self, key: dict) -> str:
        return "|".join(f"{kv['Key']}_{kv['Val']}" for kv in key["List"])

    def push_url(self) -> str:
        c = self.creds
        assert c
        parts = urlsplit(c.main)
        if parts.hostname and parts.hostname.endswith(("qq.com", "wechat.com")):
            return f"{parts.scheme}://webpush.{parts.netloc}"
        return c.main

    async def synccheck(self, key: dict | None = None) -> tuple[str, str]:
        c = self.creds
        assert c
        r = await self.http.get(
            f"{self.push_url()}{CGI}synccheck",
            params={
                "r": int(time.time() * 1000),
                "skey": c.skey,
                "sid": c.sid,
                "uin": c.uin,
                "deviceid": device_id(),
                "synckey": self.synckey_str(key or c.check_key),
                "_": int(time.time() * 1000),
            },  # fmt: skip
            timeout=60,
        )
        m = SYNCCHECK_RE.match(r.text)
        assert m, r.text
        return m.group(1), m.group(2)

    async def sync(self, key: dict | None = None) -> dict:
        c = self.creds
        assert c
        data = await self.post(
            "webwxsync",
            {"BaseRequest": self.base_request(), "SyncKey": key or c.sync_key, "rr": 1},
            sid=c.sid,
            skey=quote(c.skey),
        )
        if data["BaseResponse"]["Ret"] == 0:
            if data["SyncKey"]["Count"]:
                c.sync_key = data["SyncKey"]
            if data["SyncCheckKey"]["Count"]:
                c.check_key = data["SyncCheckKey"]
        return data

    async def send_text(self, to: str, text: str, client_msg_id: str | None = None) -> dict:
        cid = client_msg_id or str(int(time.time() * 1000)) + str(random.randrange(1000, 9999))
        me = self.creds.user["UserName"]  # type: ignore[union-attr]
        return await self.post(
            "webwxsendmsg",
            {
                "BaseRequest": self.base_request(),
                "Msg": {
                    "Type": 1,
                    "Content": text,
                    "FromUserName": me,
                    "ToUserName": to,
                    "LocalID": cid,
                    "ClientMsgId": cid,
                },
                "Scene": 0,
            },  # fmt: skip
        )

    async def all_contacts(self) -> list[dict]:
        out, seq = [], 0
        while True:
            page = await self.getcontact(seq)
            out += page["MemberList"]
            seq = page["Seq"]
            if seq == 0:
                return out


def redirect_of(body: str) -> str:
    m = re.search(r'window.redirect_uri="(\S+?)";', body)
    assert m, body
    return m.group(1)


async def inject(web: WebClient, body: dict, account: str = ALICE) -> str:
    """A message arriving at `account` through the control API; its MsgId."""
    r = await web.control("POST", f"/sim/accounts/{account}/messages", body)
    assert r.status_code == 200, r.text
    return r.json()["msg_id"]


def names_by_nick(contacts: list[dict]) -> dict[str, str]:
    """NickName -> this session's UserName (session ids are random per login)."""
    return {c["NickName"]: c["UserName"] for c in contacts}
