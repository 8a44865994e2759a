"""Host families, named vs direct mode, absolute-form targets (the sim as an HTTP proxy)."""

from __future__ import annotations

import re

import httpx
import pytest
import trio
from sim_webclient import ALICE, BOB, CGI, WebClient, redirect_of

from wechat_sim.testing import open_sim


@pytest.fixture
async def proxied(sim):
    """An httpx client that sends every request to the sim in absolute form."""
    sim.world.accounts[BOB].main_host = "wx2.qq.com"
    async with httpx.AsyncClient(proxy=sim.base_url, timeout=60) as client:
        yield client


async def test_login_and_sync_through_the_sim_as_proxy(sim, proxied):
    web = WebClient(proxied, "http://login.wx.qq.com")
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": BOB})
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    code, body = await web.poll(uuid)
    code, body = await web.poll(uuid, tip=0)
    assert code == 200
    uri = redirect_of(body)
    assert uri.startswith("http://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?")
    r = await web.exchange(uri)
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("wxsid=") and "Domain=wx2.qq.com" in c for c in cookies)
    assert any(c.startswith("webwx_data_ticket=") and "Domain=.qq.com" in c for c in cookies)
    creds = web.take_xml(r)
    assert creds.main == "http://wx2.qq.com"
    init = await web.init()
    assert init["BaseResponse"]["Ret"] == 0 and init["User"]["NickName"] == "Bob"
    assert web.push_url() == "http://webpush.wx2.qq.com"
    await web.control(
        "POST", f"/sim/accounts/{BOB}/messages", {"from": "wxid_erin00000000003", "content": "yo"}
    )
    assert await web.synccheck() == ("0", "2")
    assert (await web.sync())["AddMsgList"][0]["Content"] == "yo"
    # the cookie jar scopes wxuin/wxsid to wx2.qq.com and its subdomains: the push host
    # identifies the session from cookies alone
    await web.control(
        "POST", f"/sim/accounts/{BOB}/messages", {"from": "wxid_erin00000000003", "content": "2"}
    )
    r = await proxied.get(
        f"http://webpush.wx2.qq.com{CGI}synccheck",
        params={"skey": creds.skey, "synckey": web.synckey_str(web.creds.check_key), "r": 1},
    )
    assert r.text == 'window.synccheck={retcode:"0",selector:"2"}'
    probe = await proxied.get("http://wx2.qq.com/")
    assert 'isLogin : !!"1"' in probe.text


async def test_each_endpoint_only_on_its_host_family(sim, proxied):
    web = WebClient(proxied, "http://login.wx.qq.com")
    await web.qr_login(BOB)
    assert web.creds.main == "http://wx2.qq.com"
    wrong_role = await proxied.get(
        f"http://wx2.qq.com{CGI}synccheck", params={"sid": web.creds.sid}
    )
    assert wrong_role.status_code == 404
    wrong_role = await proxied.post(f"http://webpush.wx2.qq.com{CGI}webwxinit", json={})
    assert wrong_role.status_code == 404
    assert (await proxied.get("http://wx.qq.com/jslogin")).status_code == 404
    # the session lives on wx2.qq.com: calling the wx.qq.com family fails like a dead session
    web.creds.main = "http://wx.qq.com"
    assert (await web.init())["BaseResponse"]["Ret"] == 1101
    web.creds.main = "http://wx2.qq.com"
    assert (await web.init())["BaseResponse"]["Ret"] == 0
    # the QR host of the older naming serves jslogin and the QR image
    qr = WebClient(proxied, "http://login.weixin.qq.com")
    uuid = await qr.jslogin()
    image = await proxied.get(f"http://login.weixin.qq.com/qrcode/{uuid}")
    assert image.headers["content-type"] == "image/jpeg"


async def test_host_header_selects_named_mode(sim, http):
    web = WebClient(http, sim.base_url)
    r = await http.get(
        sim.base_url + "/jslogin",
        params={"appid": "wx782c26e4c19acffb"},
        headers={"Host": "login.wx.qq.com"},
    )
    uuid = re.search(r'uuid = "([^"]+)"', r.text).group(1)
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    r = await http.get(
        sim.base_url + CGI + "login",
        params={"uuid": uuid, "tip": 0},
        headers={"Host": "login.wx.qq.com"},
    )
    if "201" in r.text:
        r = await http.get(
            sim.base_url + CGI + "login",
            params={"uuid": uuid, "tip": 0},
            headers={"Host": "login.wx.qq.com"},
        )
    # addressed by Host header the sim answers like the real service: https and real names
    assert redirect_of(r.text).startswith(
        "https://wx.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?"
    )


async def test_direct_mode_answers_with_its_own_address(web, sim):
    uuid = await web.jslogin()
    await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": ALICE})
    await web.control("POST", f"/sim/logins/{uuid}/confirm")
    _, body = await web.poll(uuid)
    _, body = await web.poll(uuid)
    assert redirect_of(body).startswith(sim.base_url + CGI + "webwxnewloginpage?")
    r = await web.exchange(redirect_of(body))
    assert not any("Domain=" in c for c in r.headers.get_list("set-cookie"))


async def test_raw_absolute_form_request_on_a_socket(sim):
    """RFC 9112 3.2.2: a server must accept absolute-form targets (no httpx in between)."""
    stream = await trio.open_tcp_stream("127.0.0.1", sim.port)
    async with stream:
        await stream.send_all(
            b"GET http://login.wx2.qq.com/jslogin?appid=wx782c26e4c19acffb&fun=new HTTP/1.1\r\n"
            b"Host: login.wx2.qq.com\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert re.search(rb'window\.QRLogin\.code = 200; window\.QRLogin\.uuid = "[^"]+";$', data)


async def test_open_sim_serves_in_the_callers_nursery():
    async with open_sim() as sim, httpx.AsyncClient() as http:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.base_url) and sim.port > 0
        assert (await http.get(sim.base_url + "/sim/accounts")).status_code == 200
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(sim.base_url + "/sim/accounts")


async def test_a_hung_up_long_poll_is_cancelled_on_the_server(web, sim):
    """A synccheck whose client disconnects must not keep running for its whole hold."""
    await web.qr_login(ALICE)
    await web.init()
    session = sim.world.live_sessions(ALICE)[0]
    with trio.move_on_after(5) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(web.synccheck)  # holds: nothing is pending
            # the server's handler runs across a socket: poll its waiter count
            while not session.changed._event.statistics().tasks_waiting:  # noqa: ASYNC110
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()  # the client gives up and hangs up
    assert not scope.cancelled_caught
    await web.http.aclose()
    with trio.fail_after(5):
        while session.changed._event.statistics().tasks_waiting:  # noqa: ASYNC110
            await trio.sleep(0.01)


async def test_host_classification():
    from wechat_sim.protocol.http import classify

    assert classify("WX2.QQ.COM:443") == classify("wx2.qq.com.") == classify("wx2.qq.com")
    assert (classify("webpush.wx2.qq.com").role, classify("webpush.wx2.qq.com").main) == (
        "push",
        "wx2.qq.com",
    )
    assert (classify("file.web.wechat.com").role, classify("file.web.wechat.com").main) == (
        "file",
        "web.wechat.com",
    )
    assert (classify("webpush2.weixin.qq.com").role, classify("webpush2.weixin.qq.com").main) == (
        "push",
        "wx2.qq.com",
    )
    assert classify("login.weixin.qq.com").role == "login"
    assert classify("evil.wx.qq.com").role == "none" and classify("evil.wx.qq.com").named
    assert not classify("127.0.0.1:5000").named and not classify("localhost").named


async def test_unknown_wechat_host_serves_nothing_but_control(sim, proxied):
    assert (await proxied.get("http://evil.wx.qq.com/jslogin")).status_code == 404
    assert (await proxied.get("http://evil.wx.qq.com/sim/accounts")).status_code == 200
