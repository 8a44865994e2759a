"""Upstream.relay between two real hypercorn servers: streaming, hang-ups, failures."""

from __future__ import annotations

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from openwx_supervisor.proxy import Upstream, UpstreamFailed


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

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        if scope["path"] == "/hold":
            self.arrived.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            self.caller_gone.set()
            return
        body = b"".join([b"x" * 1000] * 50)
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"image/jpg"), (b"x-worker", b"1")]})
        for i in range(0, len(body), 10_000):
            await send({"type": "http.response.body", "body": body[i:i + 10_000],
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _serve(nursery, app) -> str:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    return (await nursery.start(serve, app, config))[0]


@pytest.fixture
async def pair():
    """(worker, its port, proxy url, failures seen by the proxy app)."""
    worker = HoldingWorker()
    failures: list[UpstreamFailed] = []
    upstream = Upstream(read_timeout=30)
    async with trio.open_nursery() as nursery:
        worker_url = await _serve(nursery, worker)
        port = int(worker_url.rsplit(":", 1)[1])

        async def proxy_app(scope, receive, send):
            if scope["type"] == "lifespan":
                return await _lifespan(receive, send)
            target = int(scope["path"].split("/")[1])
            scope = {**scope, "path": "/" + scope["path"].split("/", 2)[2],
                     "raw_path": None}
            try:
                await upstream.relay(scope, receive, send, target)
            except UpstreamFailed as exc:
                failures.append(exc)
                await send({"type": "http.response.start", "status": exc.http_status,
                            "headers": []})
                await send({"type": "http.response.body", "body": exc.status.encode()})

        proxy_url = await _serve(nursery, proxy_app)
        yield worker, port, proxy_url, failures
        await upstream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_streamed_reply_is_relayed_with_its_status_and_headers(pair):
    worker, port, proxy_url, _ = pair
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.get(f"{proxy_url}/{port}/avatar")
    assert r.status_code == 201 and r.headers["content-type"] == "image/jpg"
    assert r.headers["x-worker"] == "1" and len(r.content) == 50_000
    assert len(r.headers.get_list("date")) == 1


async def test_a_caller_hanging_up_during_a_long_poll_reaches_the_worker(pair):
    """Regression for reference H.4: a long-poll whose caller left must not stay alive
    upstream (the worker would hand its next event to nobody)."""
    worker, port, proxy_url, _ = pair
    async with httpx.AsyncClient(trust_env=False) as http:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(http.get, f"{proxy_url}/{port}/hold")
            with trio.fail_after(10):
                await worker.arrived.wait()
            nursery.cancel_scope.cancel()  # the caller gives up
    with trio.fail_after(10):
        await worker.caller_gone.wait()


async def test_a_worker_that_is_not_listening_is_a_503(pair):
    _, _, proxy_url, failures = pair
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.get(f"{proxy_url}/{dead}/get_user_info")
    assert r.status_code == 503 and "not running" in failures[0].status
