"""post_transport.PlainHTTPTransport: the lean httpx transport post_api uses over http."""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing
from events_webhook import open_webhook

from openwx_worker.post_transport import PlainHTTPTransport, post_transport


@pytest.fixture
def clock():
    return trio.testing.MockClock(autojump_threshold=0.2)


def client(**kw) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=PlainHTTPTransport(), **kw)


async def test_post_round_trip_keeps_the_connection_alive():
    async with open_webhook() as hook, client() as http:
        hook.answer = lambda got: (201, "application/json; charset=utf-8", b'{"reply":"hi"}',
                                   {"X-Extra": "1"})
        for i in range(3):
            r = await http.post(hook.url + f"?client=bot{i}", content=b'{"n":%d}' % i,
                                headers={"Content-Type": "application/json"})
            assert r.status_code == 201 and r.json() == {"reply": "hi"}
            assert r.headers["x-extra"] == "1"
    assert [(g.method, g.target, g.body) for g in hook.requests] == [
        ("POST", f"/post_api?client=bot{i}", b'{"n":%d}' % i) for i in range(3)]
    assert hook.requests[0].headers["content-length"] == "7"
    assert hook.connections == 1  # one kept-alive connection for all three


async def test_a_connection_the_server_closed_while_idle_is_not_reused():
    async with open_webhook() as hook, client() as http:
        assert (await http.post(hook.url, content=b"1")).status_code == 200
        hook.stop()  # closes the idle keep-alive connection...
        await hook.start()  # ...and listens again on the same port
        assert (await http.post(hook.url, content=b"2")).status_code == 200
    assert [g.body for g in hook.requests] == [b"1", b"2"]
    assert hook.connections == 2


async def test_connection_close_answers_are_not_reused():
    async with open_webhook() as hook, client() as http:
        hook.answer = lambda got: (200, "text/plain", b"ok", {"Connection": "close"})
        for _ in range(2):
            assert (await http.post(hook.url, content=b"x")).text == "ok"
    assert hook.connections == 2


async def test_errors_are_httpx_errors(clock):
    async with client(timeout=httpx.Timeout(35, connect=10)) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post("http://127.0.0.1:9/", content=b"x")  # nothing listens on 9
        async with open_webhook() as hook:
            hook.mode = "hang"
            start = trio.current_time()
            with pytest.raises(httpx.ReadTimeout):
                await http.post(hook.url, content=b"x")
            assert trio.current_time() - start == pytest.approx(35, abs=0.5)
            hook.mode = "ok"
            assert (await http.post(hook.url, content=b"x")).status_code == 200


async def test_server_gone_before_answering_is_a_protocol_error():
    async with open_webhook() as hook, client() as http:
        hook.mode = "hang"
        async with trio.open_nursery() as nursery:
            async def kill_soon():
                await hook.requested.wait()
                hook.stop()  # the connection drops with no answer

            nursery.start_soon(kill_soon)
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(hook.url, content=b"x")


async def test_other_schemes_go_to_the_fallback_transport():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    transport = PlainHTTPTransport(fallback=httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.post("https://example.com/hook", content=b"x")).status_code == 204
    assert seen == ["https://example.com/hook"]


def test_proxies_in_the_environment_keep_httpx_default(monkeypatch):
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    assert isinstance(post_transport(), PlainHTTPTransport)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert post_transport() is None
