"""The proxy relay (httpd + relay) in front of real servers: streaming, hang-ups, framing, failures.

``/PORT/rest`` on the relay server is relayed to ``127.0.0.1:PORT/rest``. The
worker is a real hypercorn server (as the real worker is) or, for framing corner
cases, a raw socket server that writes exactly the bytes a test chooses.
"""

from __future__ import annotations

import socket
from functools import partial

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from openwx_supervisor import httpd
from openwx_supervisor.relay import RelayPool, UpstreamFailed


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


class HoldingWorker:
    """A worker whose /hold never answers; it records whether its caller hung up."""

    def __init__(self):
        self.arrived = trio.Event()
        self.caller_gone = trio.Event()
        self.peers: list[int] = []  # the port of the connection of each request

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        self.peers.append(scope["client"][1])
        if scope["path"] == "/hold":
            self.arrived.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            self.caller_gone.set()
            return
        if scope["path"] == "/echo":
            size, more = 0, True
            while more:
                message = await receive()
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
            body = f"{scope['method']} {scope['query_string'].decode()} {size}".encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        body = b"".join([b"x" * 1000] * 50)
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"image/jpg"), (b"x-worker", b"1")]})
        for i in range(0, len(body), 10_000):
            await send({"type": "http.response.body", "body": body[i:i + 10_000],
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _serve_worker(nursery, app) -> int:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    url = (await nursery.start(serve, app, config))[0]
    return int(url.rsplit(":", 1)[1])


async def _serve_raw(nursery, reply: bytes) -> int:
    """A 'worker' that reads one request head and writes ``reply``, then closes."""
    async def handler(stream):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            data += chunk
        await stream.send_all(reply)
        await stream.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return listeners[0].socket.getsockname()[1]


class Relay:
    """The relay server; ``failures`` are the UpstreamFailed it turned into replies."""

    def __init__(self, read_timeout: float = 30) -> None:
        self.pool = RelayPool(read_timeout)
        self.failures: list[UpstreamFailed] = []
        self.url = ""

    async def __call__(self, scope, receive, send):
        port, _, rest = scope["raw_path"][1:].partition(b"/")
        query = scope["query_string"]
        try:
            await self.pool.relay(scope["extensions"]["openwx.exchange"],
                                  b"/" + rest + (b"?" + query if query else b""), int(port))
        except UpstreamFailed as exc:
            self.failures.append(exc)
            await send({"type": "http.response.start", "status": exc.http_status, "headers": []})
            await send({"type": "http.response.body", "body": exc.status.encode()})


async def _serve_relay(nursery, read_timeout: float = 30) -> Relay:
    relay = Relay(read_timeout)
    relay.url = (await nursery.start(httpd.serve, relay, "127.0.0.1:0"))[0]
    return relay


@pytest.fixture
async def pair():
    """(worker, its port, relay)."""
    worker = HoldingWorker()
    async with trio.open_nursery() as nursery:
        port = await _serve_worker(nursery, worker)
        relay = await _serve_relay(nursery)
        yield worker, port, relay
        relay.pool.close()
        nursery.cancel_scope.cancel()


async def _raw_exchange(url: str, data: bytes, until: bytes, count: int = 1) -> bytes:
    """Write ``data`` on a raw connection; read until ``until`` appears ``count`` times."""
    host, port = url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(data)
        got = b""
        with trio.fail_after(10):
            while got.count(until) < count:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                got += chunk
        return got


async def test_a_streamed_reply_is_relayed_with_its_status_and_headers(pair):
    worker, port, relay = pair
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.get(f"{relay.url}/{port}/avatar")
        assert r.status_code == 201 and r.headers["content-type"] == "image/jpg"
        assert r.headers["x-worker"] == "1" and len(r.content) == 50_000
        assert len(r.headers.get_list("date")) == 1
        # the chunked reply ended where it should: the connections are reused
        r = await http.get(f"{relay.url}/{port}/echo?a=1")
        assert r.text == "GET a=1 0"
    assert worker.peers[0] == worker.peers[1]


async def test_bodies_stream_up_in_both_framings_and_head_has_no_body(pair):
    _, port, relay = pair
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.post(f"{relay.url}/{port}/echo", content=b"u" * 3_000_000)
        assert r.text == "POST  3000000"

        async def chunks():
            for _ in range(4):
                yield b"y" * 1000

        r = await http.post(f"{relay.url}/{port}/echo?c=1", content=chunks())
        assert r.text == "POST c=1 4000"
        r = await http.head(f"{relay.url}/{port}/echo")
        assert r.status_code == 200 and r.content == b""
        r = await http.get(f"{relay.url}/{port}/echo")
        assert r.text == "GET  0"


async def test_expect_continue_and_pipelined_requests(pair):
    _, port, relay = pair
    got = await _raw_exchange(
        relay.url, f"POST /{port}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        "Expect: 100-continue\r\n\r\n".encode(), b"100 Continue")
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    two = (f"GET /{port}/echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
           f"GET /{port}/echo?n=2 HTTP/1.1\r\nHost: x\r\n\r\n").encode()
    got = await _raw_exchange(relay.url, two, b"GET n=", count=2)
    assert got.index(b"GET n=1 0") < got.index(b"GET n=2 0")


async def test_a_caller_hanging_up_during_a_long_poll_reaches_the_worker(pair):
    """Regression for reference H.4: a long-poll whose caller left must not stay alive
    upstream (the worker would hand its next event to nobody)."""
    worker, port, relay = pair
    async with httpx.AsyncClient(trust_env=False) as http:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(http.get, f"{relay.url}/{port}/hold")
            with trio.fail_after(10):
                await worker.arrived.wait()
            nursery.cancel_scope.cancel()  # the caller gives up
    with trio.fail_after(10):
        await worker.caller_gone.wait()


async def test_a_worker_that_is_not_listening_is_a_503(pair):
    _, _, relay = pair
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.get(f"{relay.url}/{dead}/get_user_info")
    assert r.status_code == 503 and "not running" in relay.failures[0].status


async def test_a_worker_closing_its_kept_connection_is_replaced_unnoticed():
    """The raw worker closes after each reply without saying so; the pool notices."""
    async with trio.open_nursery() as nursery:
        port = await _serve_raw(nursery, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        relay = await _serve_relay(nursery)
        async with httpx.AsyncClient(trust_env=False) as http:
            for _ in range(3):
                r = await http.get(f"{relay.url}/{port}/x")
                assert r.status_code == 200 and r.text == "ok"
        assert relay.failures == []
        nursery.cancel_scope.cancel()


async def test_framing_corner_cases_from_the_worker():
    async with trio.open_nursery() as nursery:
        relay = await _serve_relay(nursery)
        # a reply delimited by the end of the connection: relayed, then the caller's closes
        until_close = await _serve_raw(nursery, b"HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nall of it")
        got = await _raw_exchange(relay.url, f"GET /{until_close}/ HTTP/1.1\r\n\r\n".encode(),
                                  b"never")
        assert got.endswith(b"\r\n\r\nall of it") and b"connection: close" in got
        # a reply broken off mid-body: the caller sees a truncated reply
        broken = await _serve_raw(nursery, b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort")
        async with httpx.AsyncClient(trust_env=False) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(f"{relay.url}/{broken}/")
            # garbage instead of a reply: 502 before anything was sent
            garbage = await _serve_raw(nursery, b"SMTP ready\r\n\r\n")
            r = await http.get(f"{relay.url}/{garbage}/")
            assert r.status_code == 502 and "malformed status line" in r.text
            # an interim 1xx reply is skipped
            interim = await _serve_raw(
                nursery, b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n"
                b"\r\nz")
            r = await http.get(f"{relay.url}/{interim}/")
            assert r.status_code == 200 and r.text == "z"
        # a head we cannot read: 400, connection closed
        got = await _raw_exchange(relay.url, b"GARBAGE\r\n\r\n", b"never")
        assert got.startswith(b"HTTP/1.1 400 ")
        nursery.cancel_scope.cancel()


@pytest.fixture
def slow_clock():
    """Autojump, but only once loopback I/O has been quiet for a while."""
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_a_worker_silent_past_the_read_timeout_is_a_504(slow_clock):
    worker = HoldingWorker()
    async with trio.open_nursery() as nursery:
        port = await _serve_worker(nursery, worker)
        relay = await _serve_relay(nursery, read_timeout=100)
        async with httpx.AsyncClient(trust_env=False, timeout=None) as http:
            r = await http.get(f"{relay.url}/{port}/hold")
        assert r.status_code == 504 and "in time" in relay.failures[0].status
        assert trio.current_time() >= 100
        nursery.cancel_scope.cancel()


async def test_an_idle_caller_connection_is_closed_after_the_keep_alive_timeout(slow_clock):
    async with trio.open_nursery() as nursery:
        url = (await nursery.start(partial(httpd.serve, keep_alive_timeout=75), Relay(),
                                   "127.0.0.1:0"))[0]
        host, port = url.removeprefix("http://").split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await trio.sleep(74)
            with pytest.raises(trio.TooSlowError):  # still open
                with trio.fail_after(0.5):
                    await stream.receive_some(10)
            with trio.fail_after(5):
                assert await stream.receive_some(10) == b""  # closed at 75 s
        assert 75 <= trio.current_time() < 80
        nursery.cancel_scope.cancel()


async def _counting_app(scope, receive, send):
    """Reads the body through ASGI receive (as the controller endpoints do); replies its size,
    or replies at once without reading it for /early."""
    size, more, messages = 0, scope["raw_path"] != b"/early", 0
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
        messages += 1
    body = f"{size} {messages}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_controller_bodies_arrive_through_receive_in_pieces_and_unread_ones_are_skipped():
    async with trio.open_nursery() as nursery:
        url = (await nursery.start(httpd.serve, _counting_app, "127.0.0.1:0"))[0]
        async with httpx.AsyncClient(trust_env=False) as http:
            r = await http.post(f"{url}/x", content=b"b" * 3_000_000)
            size, messages = map(int, r.text.split())
            assert size == 3_000_000 and messages > 1  # streamed, not buffered whole

            async def chunks():
                yield b"ab"
                yield b"cd"

            r = await http.post(f"{url}/x", content=chunks())
            assert r.text == "4 1"  # a chunked body is decoded
            r = await http.post(f"{url}/early", content=b"z" * 5000)
            assert r.text == "0 0"
            r = await http.get(f"{url}/x")  # the skipped body did not spoil the connection
            assert r.text == "0 1" and r.headers["content-length"] == "3"
        # an early reply to a caller waiting for 100 Continue: the connection is closed
        got = await _raw_exchange(url, b"POST /early HTTP/1.1\r\nContent-Length: 9\r\n"
                                  b"Expect: 100-continue\r\n\r\n", b"never")
        assert got.startswith(b"HTTP/1.1 200 OK") and b"connection: close" not in got
        assert b"100 Continue" not in got
        nursery.cancel_scope.cancel()


async def test_concurrent_callers_share_the_pool_without_mixing_replies(pair):
    worker, port, relay = pair
    results: dict[int, str] = {}
    async with httpx.AsyncClient(trust_env=False) as http:
        async def one(i):
            r = await http.get(f"{relay.url}/{port}/echo?i={i}")
            results[i] = r.text

        async def avatar():
            r = await http.get(f"{relay.url}/{port}/avatar")
            results[-1] = str(len(r.content))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(avatar)
            for i in range(30):
                nursery.start_soon(one, i)
    assert results.pop(-1) == "50000"
    assert results == {i: f"GET i={i} 0" for i in range(30)}
    assert len(set(worker.peers)) <= 31  # no more upstream connections than callers
