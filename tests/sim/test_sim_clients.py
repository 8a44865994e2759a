"""Request sequences in the styles of the reference's clients (web-protocol.md 11, 13), on
real https host names mapped onto the sim by a Host-keeping transport (12.5)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import httpx
import pytest
import trio
from sim_webclient import ALICE, BOB, CGI, SYNCCHECK_RE

from wechat_sim.testing import open_sim


class ToSim(httpx.AsyncBaseTransport):
    """Send https://<wechat host>/... to the sim, keeping the host in the Host header."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = request.headers.copy()
        headers["Host"] = request.url.netloc.decode()
        url = request.url.copy_with(scheme="http", host=self.base.host, port=self.base.port)
        return await self.inner.handle_async_request(
            httpx.Request(request.method, url, headers=headers, stream=request.stream)
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def wechat(sim):
    async with httpx.AsyncClient(transport=ToSim(sim.base_url), timeout=60) as client:
        yield client


def window_values(body: str) -> dict[str, str]:
    """M's parser: every `window.<key>=<value>;`, quotes stripped."""
    return {k: v.strip("'\"") for k, v in re.findall(r"window\.([\w.]+)\s*=\s*([^;]*);", body)}


async def phone(http: httpx.AsyncClient, sim, uuid: str, account: str) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as control:
        assert (
            await control.post(f"/sim/logins/{uuid}/scan", json={"account": account})
        ).status_code == 200
        assert (await control.post(f"/sim/logins/{uuid}/confirm")).status_code == 200


async def test_itchat_style_session(sim, wechat):
    """itchat: QR host for jslogin, tip=1 on every poll, no redirects on the exchange,
    pass_ticket as DeviceID, single-encoded pass_ticket, GET logout."""
    sim.world.config.echo_sent = True
    r = await wechat.get(
        "https://login.weixin.qq.com/jslogin", params={"appid": "wx782c26e4c19acffb", "fun": "new"}
    )
    uuid = re.match(r'window.QRLogin.code = (\d+); window.QRLogin.uuid = "(\S+?)";', r.text).group(
        2
    )
    async with httpx.AsyncClient(base_url=sim.base_url) as control:
        await control.post(f"/sim/logins/{uuid}/scan", json={"account": ALICE})
        poll = {"loginicon": "true", "uuid": uuid, "tip": 1, "r": int(-time.time() / 1579), "_": 1}
        url = "https://login.weixin.qq.com/cgi-bin/mmwebwx-bin/login"
        assert (await wechat.get(url, params=poll)).text.startswith("window.code=201;")
        # itchat polls again at once with tip=1: the sim holds instead of spinning on 201
        async with trio.open_nursery() as nursery:
            got = {}

            async def again():
                got["body"] = (await wechat.get(url, params=poll)).text

            nursery.start_soon(again)
            await trio.sleep(0.2)
            assert "body" not in got
            await control.post(f"/sim/logins/{uuid}/confirm")
    redirect = re.search(r'window.redirect_uri="(\S+)";', got["body"]).group(1)
    assert redirect.startswith("https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?")
    r = await wechat.get(redirect, follow_redirects=False)
    assert r.status_code == 301  # no fun=new: 301 without Location, XML in the body
    vals = dict(re.findall(r"<(\w+)>([^<]*)</\1>", r.text))
    pass_ticket, skey, sid, uin = vals["pass_ticket"], vals["skey"], vals["wxsid"], vals["wxuin"]
    base_request = {"Uin": int(uin), "Sid": sid, "Skey": skey, "DeviceID": pass_ticket}
    r = await wechat.post(
        f"https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxinit?r={int(time.time())}&pass_ticket={quote(pass_ticket)}",
        content=json.dumps({"BaseRequest": base_request}),
        headers={"ContentType": "application/json; charset=UTF-8"},
    )
    init = r.json()
    me, sync_key = init["User"]["UserName"], init["SyncKey"]
    assert init["InviteStartCount"] == 40
    r = await wechat.post(
        "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxsendmsg",
        content=json.dumps({"BaseRequest": base_request, "Msg": {"Type": 1, "Content": "你好", "FromUserName": me,
                            "ToUserName": "filehelper", "LocalID": int(time.time() * 1e4),
                            "ClientMsgId": int(time.time() * 1e4)}, "Scene": 0}, ensure_ascii=False).encode(),
    )  # fmt: skip
    assert r.json()["BaseResponse"]["Ret"] == 0
    synckey = "|".join(f"{kv['Key']}_{kv['Val']}" for kv in sync_key["List"])
    r = await wechat.get(
        f"https://webpush.wx.qq.com{CGI}synccheck",
        params={
            "r": 1,
            "skey": skey,
            "sid": sid,
            "uin": uin,
            "deviceid": "e123456789012345",
            "synckey": synckey,
            "_": 2,
        },  # fmt: skip
    )
    assert SYNCCHECK_RE.match(r.text).groups() == ("0", "2")
    r = await wechat.post(
        f"https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxsync?sid={sid}&skey={skey}&pass_ticket={pass_ticket}",
        content=json.dumps(
            {"BaseRequest": base_request, "SyncKey": sync_key, "rr": ~int(time.time())}
        ),
    )
    (echo,) = r.json()["AddMsgList"]
    assert (echo["FromUserName"], echo["ToUserName"], echo["Content"]) == (me, "filehelper", "你好")
    r = await wechat.get(
        f"https://wx.qq.com{CGI}webwxlogout", params={"redirect": 1, "type": 1, "skey": skey}
    )
    assert r.status_code == 302
    r = await wechat.get(
        f"https://webpush.wx.qq.com{CGI}synccheck",
        params={"skey": skey, "sid": sid, "uin": uin, "synckey": synckey},
    )
    assert r.text == 'window.synccheck={retcode:"1101",selector:"0"}'


async def test_mojo_style_session_on_wx2(sim, wechat):
    """Mojo::Weixin: login.wx.qq.com, `&fun=new&version=v2&lang=zh_CN` appended, a webwxsync
    BaseRequest of Uin and Sid only, cookie-restore init with an empty skey, POST logout twice."""
    sim.world.accounts[BOB].main_host = "wx2.qq.com"
    r = await wechat.get("https://login.wx.qq.com/jslogin", params={
        "appid": "wx782c26e4c19acffb", "redirect_uri": "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage",
        "fun": "new", "lang": "zh_CN", "_": 1})  # fmt: skip
    uuid = re.search(r'uuid = "(\S+?)"', re.sub(r"\s", " ", r.text)).group(1)
    await phone(wechat, sim, uuid, BOB)
    values = {}
    while values.get("code") != "200":
        r = await wechat.get(
            "https://login.wx.qq.com/cgi-bin/mmwebwx-bin/login",
            params={"loginicon": "true", "uuid": uuid, "tip": "", "r": ~1, "_": 1},
        )
        values = window_values(r.text)
    redirect = values["redirect_uri"]
    assert redirect.startswith("https://wx2.qq.com/")
    r = await wechat.get(
        redirect + "&fun=new&version=v2&lang=zh_CN", headers={"Referer": "https://wx2.qq.com/"}
    )
    assert r.status_code == 200 and re.match(r"^<error>.*</error>$", r.text)
    domains = {c.name: c.domain for c in wechat.cookies.jar}
    assert (
        domains["wxuin"].lstrip(".") == "wx2.qq.com" and domains["webwx_data_ticket"] == ".qq.com"
    )
    # the cookies alone (no skey, no pass_ticket) name the session: M's restore path
    probe = await wechat.get("https://wx2.qq.com/")
    assert re.search(r'window.MMCgi\s*=\s*{\s*isLogin\s*:\s*(!!"1")\s*}', probe.text)
    uin, sid = wechat.cookies.get("wxuin"), wechat.cookies.get("wxsid")
    r = await wechat.post(
        f"https://wx2.qq.com{CGI}webwxinit?r=1",
        json={"BaseRequest": {"Uin": uin, "Sid": sid, "Skey": "", "DeviceID": "e1"}},
    )
    init = r.json()
    assert init["BaseResponse"]["Ret"] == 0
    r = await wechat.post(
        f"https://wx2.qq.com{CGI}webwxsync?sid={sid}&skey=",
        json={"BaseRequest": {"Uin": uin, "Sid": sid}, "SyncKey": init["SyncKey"]},
    )
    assert r.json()["BaseResponse"]["Ret"] == 0
    # the wrong family for this account is refused
    r = await wechat.post(
        f"https://wx.qq.com{CGI}webwxinit?r=1",
        json={"BaseRequest": {"Uin": uin, "Sid": sid, "Skey": "", "DeviceID": "e1"}},
    )
    assert r.json()["BaseResponse"]["Ret"] == 1101
    for t in (0, 1):
        await wechat.post(
            f"https://wx2.qq.com{CGI}webwxlogout?redirect=1&type={t}&skey=",
            data={"sid": sid, "uin": uin},
        )
    assert not sim.world.logged_in(BOB)


async def test_wechat4u_style_exchange_reads_the_301():
    """wechat4u: POST jslogin, tip=0 polls, the 301 exchange whose Set-Cookie values it reads."""
    async with (
        open_sim(auto_confirm=True) as sim,
        httpx.AsyncClient(transport=ToSim(sim.base_url), timeout=60) as wechat,
    ):
        r = await wechat.post(
            "https://login.wx.qq.com/jslogin?appid=wx782c26e4c19acffb&fun=new&lang=zh-CN&redirect_uri=https%3A%2F%2Fwx.qq.com%2Fcgi-bin%2Fmmwebwx-bin%2Fwebwxnewloginpage%3Fmod%3Ddesktop"
        )
        uuid = re.search(r'uuid = "(\S+?)"', r.text).group(1)
        body = ""
        while "window.code=200" not in body:
            body = (
                await wechat.get(
                    "https://login.wx.qq.com/cgi-bin/mmwebwx-bin/login",
                    params={"uuid": uuid, "tip": 0},
                )
            ).text
        redirect = re.search(r'redirect_uri="(\S+)"', body).group(1)
        r = await wechat.get(
            redirect, headers={"client-version": "2.0.0", "extspam": "Go8FCIkFEokFCggwMDAwMDAwMRAG"}
        )
        assert r.status_code == 301 and "location" not in r.headers
        cookie_names = {c.split("=")[0] for c in r.headers.get_list("set-cookie")}
        assert {"wxuin", "wxsid", "webwx_data_ticket"} <= cookie_names
        assert sim.world.sessions[-1].desktop
