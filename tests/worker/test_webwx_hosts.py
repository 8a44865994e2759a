"""Host families, their derivation, and the --wechat-base transport (against the simulator)."""

from __future__ import annotations

import httpx
import pytest

from openwx_worker.testing import running_client
from openwx_worker.webwx.hosts import Hosts, WeChatTransport
from openwx_worker.webwx.login import get_uuid
from openwx_worker.webwx.session import Session, open_http
from wechat_sim.testing import open_sim
from wechat_sim.worldgen import build, default_spec


@pytest.mark.parametrize(
    ("main", "login", "file", "push"),
    [
        ("wx.qq.com", "login.wx.qq.com", "file.wx.qq.com", "webpush.wx.qq.com"),
        ("wx2.qq.com", "login.wx2.qq.com", "file.wx2.qq.com", "webpush.wx2.qq.com"),
        ("wx8.qq.com", "login.wx8.qq.com", "file.wx8.qq.com", "webpush.wx8.qq.com"),
        ("web2.wechat.com", "login.web2.wechat.com", "file.web2.wechat.com",
         "webpush.web2.wechat.com"),
        ("web.wechat.com", "login.web.wechat.com", "file.web.wechat.com",
         "webpush.web.wechat.com"),
        ("chat.example.org", "login.chat.example.org", "file.chat.example.org",
         "webpush.chat.example.org"),
    ],
)
def test_host_derivation(main, login, file, push):
    hosts = Hosts.for_main(main)
    assert (hosts.login, hosts.file, hosts.push, hosts.qr) == (
        login, file, push, "login.weixin.qq.com")


def test_hosts_from_redirect():
    uri = "https://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=A@qrticket_0"
    hosts = Hosts.from_redirect(uri)
    assert hosts.main == "wx2.qq.com" and hosts.url("push", "synccheck") == (
        "https://webpush.wx2.qq.com/cgi-bin/mmwebwx-bin/synccheck")


async def test_transport_keeps_wechat_host_in_host_header():
    seen = []

    class Recorder(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            seen.append((str(request.url), request.headers["host"]))
            return httpx.Response(200, text="ok")

    async with httpx.AsyncClient(transport=WeChatTransport("http://127.0.0.1:9", Recorder())) as c:
        await c.get("https://webpush.wx2.qq.com/cgi-bin/mmwebwx-bin/synccheck?r=1")
    assert seen == [("http://127.0.0.1:9/cgi-bin/mmwebwx-bin/synccheck?r=1",
                     "webpush.wx2.qq.com")]


async def test_jslogin_reaches_the_simulator_by_host(autojump_clock):
    async with open_sim() as sim, open_http(sim.base_url) as http:
        uuid = await get_uuid(Session(http))
        assert uuid.endswith("==")


async def test_login_switches_to_the_redirect_main_host(tmp_path, autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    spec = default_spec()
    for account in spec.accounts:
        account.main_host = "wx2.qq.com"
    async with open_sim(world=build(spec), auto_confirm=True) as sim, \
            running_client(sim, tmp_path) as h:
        assert h.client.session.hosts == Hosts.for_main("wx2.qq.com")
        # webwx_data_ticket is scoped to the parent domain, so the file host gets it too.
        assert h.client.session.data_ticket()


async def test_without_base_requests_go_to_the_real_host_over_https():
    seen = []

    class Recorder(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            seen.append((str(request.url), request.headers["host"]))
            return httpx.Response(200, text="ok")

    async with httpx.AsyncClient(transport=WeChatTransport(None, Recorder())) as c:
        await c.get("https://file.wx2.qq.com/cgi-bin/mmwebwx-bin/webwxgetmedia?x=1")
    assert seen == [("https://file.wx2.qq.com/cgi-bin/mmwebwx-bin/webwxgetmedia?x=1",
                     "file.wx2.qq.com")]
