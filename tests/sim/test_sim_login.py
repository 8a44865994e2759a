"""QR login, ticket exchange, push login, cookie-resume probe (web-protocol.md section 3)."""

from __future__ import annotations

import io
import re

import httpx
import trio
from PIL import Image
from sim_webclient import ALICE, BOB, CGI, XML_RE, WebClient, redirect_of

from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig

AVATAR_RE = re.compile(
    r"^window\.code=201;window\.userAvatar = 'data:img/jpg;base64,[A-Za-z0-9+/=]+';$"
)
REDIRECT_RE = re.compile(
    r'^window\.code=200;\n?window\.redirect_uri="(http://[^"\s]+/cgi-bin/mmwebwx-bin/'
    r'webwxnewloginpage\?ticket=A[^&]+@qrticket_0&uuid=[^&]+&lang=zh_CN&scan=\d+)";$'
)
SUCCESS_XML = re.compile(
    r"^<error><ret>0</ret><message></message><skey>@crypt_[0-9a-f]{8}_[0-9a-f]{32}</skey>"
    r"<wxsid>[A-Za-z0-9+/]{16}</wxsid><wxuin>\d{9,10}</wxuin><pass_ticket>[A-Za-z0-9%]+"
    r"</pass_ticket><isgrayscale>1</isgrayscale></error>$"
)


async def test_jslogin_answer_has_the_exact_bytes(web, http, sim):
    r = await http.get(
        sim.base_url + "/jslogin", params={"appid": "wx782c26e4c19acffb", "fun": "new"}
    )
    assert re.fullmatch(
        r'window\.QRLogin\.code = 200; window\.QRLogin\.uuid = "[A-Za-z0-9_-]{10}==";', r.text
    )
    r = await http.post(sim.base_url + "/jslogin?appid=wx782c26e4c19acffb&fun=new")  # W uses POST
    assert "code = 200" in r.text


async def test_qrcode_is_a_real_jpeg(web, http, sim):
    uuid = await web.jslogin()
    r = await http.get(f"{sim.base_url}/qrcode/{uuid}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "JPEG" and image.size[0] > 100
    assert (await http.get(f"{sim.base_url}/qrcode/nope==")).status_code == 404


async def test_qr_login_scan_confirm_exchange(web, http, sim):
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    code, body = await web.poll(uuid)
    assert code == 201 and AVATAR_RE.match(body), body
    logins = (await web.control("GET", "/sim/logins")).json()
    assert {"uuid": uuid, "state": "scanned"}.items() <= logins[0].items()
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    code, body = await web.poll(uuid, tip=0)
    assert code == 200 and REDIRECT_RE.match(body), body
    r = await web.exchange(redirect_of(body))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert SUCCESS_XML.match(r.text), r.text
    set_cookies = r.headers.get_list("set-cookie")
    names = {c.split("=", 1)[0] for c in set_cookies}
    assert {
        "wxuin",
        "wxsid",
        "webwx_data_ticket",
        "webwxuvid",
        "webwx_auth_ticket",
        "mm_lang",
    } <= names
    assert all("Path=/" in c for c in set_cookies)
    values = dict(c.split(";", 1)[0].split("=", 1) for c in set_cookies)
    assert re.fullmatch(r"[A-Za-z0-9+/=]{24}", values["webwx_data_ticket"])  # 12.1 formats
    assert re.fullmatch(r"[0-9a-f]{96}", values["webwxuvid"])
    assert values["wxuin"] == re.search(r"<wxuin>(\d+)</wxuin>", r.text).group(1)
    assert values["wxsid"] == re.search(r"<wxsid>([^<]+)</wxsid>", r.text).group(1)
    creds = web.take_xml(r)
    assert creds.uin == str(sim.world.accounts[ALICE].uin)
    # the ticket is single-use: a second exchange fails without skey
    again = await web.exchange(redirect_of(body))
    assert (
        XML_RE.match(again.text) and "<ret>0</ret>" not in again.text and "skey" not in again.text
    )
    # and the uuid is spent
    assert (await web.poll(uuid))[0] == 400
    assert (await web.control("GET", "/sim/accounts")).json()[0]["logged_in"] is True


async def test_exchange_without_v2_answers_301_without_location(web, http, sim):
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": BOB})
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    _, body = await web.poll(uuid)
    _, body = await web.poll(uuid) if "201" in body else (0, body)
    r = await web.exchange(redirect_of(body), v2=False)
    assert r.status_code == 301 and "location" not in r.headers
    assert SUCCESS_XML.match(r.text)
    assert "wxsid" in r.cookies


async def test_no_200_before_scan_and_confirm(web, sim):
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    assert (await web.poll(uuid))[0] == 201
    r = await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": BOB})
    assert r.status_code == 400 and "error" in r.json()
    await web.control("POST", f"/sim/logins/{uuid}/cancel")  # cancel on the phone: back to waiting
    assert (await web.control("GET", "/sim/logins")).json()[0]["state"] == "waiting"


async def test_unknown_uuid_answers_400(web):
    assert await web.poll("doesnotexist==") == (400, "window.code=400;")


async def test_poll_holds_then_408_and_qr_expires_to_400(mock_clock):
    mock_clock.autojump_threshold = 0.05
    config = SimConfig(login_hold=25, qr_lifetime=60)
    async with open_sim(config=config) as sim, httpx.AsyncClient(timeout=100) as http:
        web = WebClient(http, sim.base_url)
        uuid = await web.jslogin()
        start = trio.current_time()
        assert await web.poll(uuid) == (408, "window.code=408;")
        assert 24 <= trio.current_time() - start <= 26
        await web.poll(uuid)  # 50 s
        code, body = await web.poll(uuid)  # expires at 60 s, mid-poll
        assert (code, body) == (400, "window.code=400;")
        assert 59 <= trio.current_time() - start <= 61


async def test_poll_wakes_at_once_on_scan(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = WebClient(http, sim.base_url)
        uuid = await web.jslogin()
        result = {}

        async def poller():
            result["poll"] = await web.poll(uuid)
            result["at"] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poller)
            await trio.sleep(3)
            await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
        assert result["poll"][0] == 201 and result["at"] < 4


async def test_auto_confirm_picks_next_free_account(autojump_clock):
    async with open_sim(auto_confirm=True) as sim, httpx.AsyncClient(timeout=100) as http:
        first = WebClient(http, sim.base_url)
        uuid = await first.jslogin()
        code, body = await first.poll(uuid)
        assert code == 201
        code, body = await first.poll(uuid, tip=0)
        assert code == 200
        first.take_xml(await first.exchange(redirect_of(body)))
        assert first.creds.uin == str(sim.world.accounts[ALICE].uin)
        async with httpx.AsyncClient(timeout=100) as http2:
            second = WebClient(http2, sim.base_url)
            uuid = await second.jslogin()
            while (answer := await second.poll(uuid))[0] != 200:
                pass
            second.take_xml(await second.exchange(redirect_of(answer[1])))
            assert second.creds.uin == str(sim.world.accounts[BOB].uin)


async def test_auto_confirm_prefers_the_account_this_cookie_logged_in(autojump_clock):
    async def login_once(web: WebClient) -> str:
        uuid = await web.jslogin()
        while (answer := await web.poll(uuid))[0] != 200:
            pass
        web.take_xml(await web.exchange(redirect_of(answer[1])))
        return web.creds.uin

    async with open_sim(auto_confirm=True) as sim:
        uins = {w: str(a.uin) for w, a in sim.world.accounts.items()}
        async with httpx.AsyncClient(timeout=100) as jar1, httpx.AsyncClient(timeout=100) as jar2:
            assert await login_once(WebClient(jar1, sim.base_url)) == uins[ALICE]
            assert await login_once(WebClient(jar2, sim.base_url)) == uins[BOB]
            # Bob's phone logs out: Bob is now the next account not logged in, yet jar1 holds
            # Alice's wxuin cookie, so its next QR login is confirmed by Alice again
            r = await jar2.post(f"{sim.base_url}/sim/accounts/{BOB}/logout", json={})
            assert r.json() == {"ended": 1}
            assert await login_once(WebClient(jar1, sim.base_url)) == uins[ALICE]
            # a jar without a wxuin cookie gets the next free account, Bob
            async with httpx.AsyncClient(timeout=100) as jar3:
                assert await login_once(WebClient(jar3, sim.base_url)) == uins[BOB]


async def test_desktop_variant_needs_its_headers(web, sim):
    uuid = await web.jslogin(
        redirect_uri="https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?mod=desktop"
    )
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    while (answer := await web.poll(uuid))[0] != 200:
        pass
    bare = await web.exchange(redirect_of(answer[1]), v2=False)
    assert "<ret>1203</ret>" in bare.text
    # a refused exchange does not spend the login: with the desktop headers it succeeds
    ok = await web.exchange(
        redirect_of(answer[1]), v2=False,
        headers={"client-version": "2.0.0", "extspam": "Go8FCIkFEokFCggwMDAwMDAwMRAG"},
    )  # fmt: skip
    assert ok.status_code == 301 and SUCCESS_XML.match(ok.text)


async def test_web_barred_account_gets_1203(web, sim):
    sim.world.accounts[BOB].web_barred = True
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": BOB})
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    while (answer := await web.poll(uuid))[0] != 200:
        pass
    r = await web.exchange(redirect_of(answer[1]))
    assert r.status_code == 200 and re.match(
        r"^<error><ret>1203</ret><message>[^<]+</message></error>$", r.text
    )


async def test_push_login_needs_an_earlier_login_and_a_confirm(web, http, sim):
    uin = sim.world.accounts[ALICE].uin
    url = f"{sim.base_url}{CGI}webwxpushloginurl"
    refused = (await http.get(url, params={"uin": uin})).json()
    assert refused["ret"] != "0"
    await web.qr_login(ALICE)
    answer = (await http.get(url, params={"uin": uin})).json()
    assert answer["ret"] == "0" and answer["msg"] == "all ok" and answer["uuid"]
    uuid = answer["uuid"]
    assert (await web.poll(uuid))[0] == 201  # waiting for the phone's confirm, no QR
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    code, body = await web.poll(uuid)
    assert code == 200
    web.take_xml(await web.exchange(redirect_of(body)))
    assert web.creds.uin == str(uin)
    assert (await http.get(url, params={"uin": "123"})).json()["ret"] == "1"


async def test_index_probe_reports_the_cookie_session(web, http, sim):
    probe = re.compile(r'window.MMCgi\s*=\s*{\s*isLogin\s*:\s*(!!"1")\s*}')
    assert not probe.search((await http.get(sim.base_url + "/")).text)
    await web.qr_login(ALICE)
    assert probe.search((await http.get(sim.base_url + "/")).text)
    # cookie resume (M): init with an empty skey works while the cookies are valid
    web.creds.skey = ""
    assert (await web.init())["BaseResponse"]["Ret"] == 0
    r = await http.post(
        f"{sim.base_url}{CGI}webwxlogout?redirect=1&type=1",
        data={"sid": web.creds.sid, "uin": web.creds.uin},
    )
    assert r.status_code in (301, 302)
    assert not probe.search((await http.get(sim.base_url + "/")).text)


async def test_a_new_login_supersedes_the_old_session(sim, http):
    old = await WebClient(http, sim.base_url).log_in(ALICE)
    async with httpx.AsyncClient(timeout=60) as http2:
        new = WebClient(http2, sim.base_url)
        await new.qr_login(ALICE)
        assert (await new.init())["BaseResponse"]["Ret"] == 0
    assert await old.synccheck() == ("1101", "0")
    assert (await old.sync())["BaseResponse"]["Ret"] == 1101


async def test_201_carries_the_avatar_only_with_loginicon(web, http, sim):
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    r = await http.get(f"{sim.base_url}{CGI}login", params={"uuid": uuid, "tip": 1})
    assert r.text == "window.code=201;"
