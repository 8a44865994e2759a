"""The WeChat client over a plain http:// --wechat-base (the simulator): requests go as
built, through post_transport's one-write transport, to the base's address; and the
sync loop lets woken tasks (delivery) run before it builds its next request."""

from __future__ import annotations

import httpx
import trio
import trio.testing
from events_webhook import open_webhook

from openwx_worker.client_sync import let_woken_tasks_run
from openwx_worker.post_transport import PlainHTTPTransport
from openwx_worker.webwx.hosts import WeChatTransport

SYNCCHECK = "https://webpush.wx2.qq.com/cgi-bin/mmwebwx-bin/synccheck"


async def test_requests_keep_target_host_and_cookies_of_the_wechat_url():
    async with open_webhook() as hook, httpx.AsyncClient(
            transport=WeChatTransport(f"http://127.0.0.1:{hook.port}")) as http:
        hook.answer = lambda got: (200, "text/javascript", b'window.synccheck={}',
                                   {"Set-Cookie": "webwx_data_ticket=t1; Domain=.qq.com; Path=/"})
        http.cookies.set("wxsid", "s1", domain=".wx2.qq.com", path="/")
        r = await http.get(SYNCCHECK, params={"r": 1, "synckey": "1_2|3_4"})
        assert r.text == "window.synccheck={}"
        assert str(r.request.url).startswith(SYNCCHECK)  # the caller sees the WeChat URL
        # the answer's cookie is stored for the WeChat domain and sent to its other hosts
        await http.post("https://file.wx2.qq.com/cgi-bin/mmwebwx-bin/webwxuploadmedia",
                        content=b"x")
        await http.get("https://example.com/elsewhere")
    first, upload, other = hook.requests
    assert first.target == httpx.URL(SYNCCHECK, params={"r": 1, "synckey": "1_2|3_4"}).raw_path.decode()
    assert first.headers["host"] == "webpush.wx2.qq.com"
    assert first.headers["cookie"] == "wxsid=s1"
    assert (upload.method, upload.target, upload.body) == (
        "POST", "/cgi-bin/mmwebwx-bin/webwxuploadmedia", b"x")
    assert upload.headers["host"] == "file.wx2.qq.com"
    assert sorted(upload.headers["cookie"].split("; ")) == ["webwx_data_ticket=t1", "wxsid=s1"]
    assert other.headers["host"] == "example.com" and "cookie" not in other.headers
    assert hook.connections == 1  # every host, one kept-alive connection to the base


def test_only_a_plain_http_base_uses_the_one_write_transport():
    assert isinstance(WeChatTransport("http://127.0.0.1:9")._inner, PlainHTTPTransport)
    assert not isinstance(WeChatTransport("https://127.0.0.1:9")._inner, PlainHTTPTransport)
    assert not isinstance(WeChatTransport(None)._inner, PlainHTTPTransport)


async def test_idle_connections_are_kept_for_concurrent_requests():
    """A long poll (synccheck) open while other calls come and go must not cost a new
    connection per call: up to a few idle connections per address are kept."""
    async with open_webhook() as hook, httpx.AsyncClient(transport=PlainHTTPTransport()) as http:
        async def post(n: int) -> None:
            assert (await http.post(hook.url, content=b"%d" % n)).status_code == 200

        for round_ in range(2):
            async with trio.open_nursery() as nursery:
                for n in range(3):
                    nursery.start_soon(post, 3 * round_ + n)
    assert len(hook.requests) == 6
    assert hook.connections == 3  # the second round reused all three


async def test_let_woken_tasks_run_runs_them_before_returning():
    """Whatever order trio picks for the batch, the woken task has run when it returns
    (20 tries: a single checkpoint fails about half of them)."""
    for _ in range(20):
        woken = trio.Event()
        ran: list[str] = []

        async def reader(woken=woken, ran=ran) -> None:
            await woken.wait()
            ran.append("reader")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            woken.set()
            await let_woken_tasks_run()
            ran.append("sync loop")
        assert ran == ["reader", "sync loop"]
