"""poll_api: heartbeat while running, and the 302 tunnel to the local API (polling.py)."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from events_webhook import open_webhook

from openwx_worker import models
from openwx_worker.events import EventLog
from openwx_worker.polling import Poller, PollOptions, tunnel_target
from openwx_worker.state import ClientState


@pytest.fixture
def clock():
    return trio.testing.MockClock(autojump_threshold=0.2)


class StateHolder:
    """Stands in for WeixinClient's `state` (the only thing polling reads)."""

    def __init__(self, state: ClientState) -> None:
        self.state = state


def test_tunnel_target_rewrites_loopback_openwx_urls_to_this_worker():
    import httpx

    local = "http://127.0.0.1:4321"
    url = httpx.URL("http://127.0.0.1:3000/openwx/send_friend_message?id=filehelper&content=hi")
    assert str(tunnel_target(url, local)) == (
        "http://127.0.0.1:4321/openwx/send_friend_message?id=filehelper&content=hi")
    assert tunnel_target(httpx.URL("http://localhost/openwx/get_user_info"), local) is not None
    assert tunnel_target(httpx.URL("http://[::1]:3000/openwx/x"), local) is not None
    assert tunnel_target(httpx.URL("http://example.com/openwx/x"), local) is None
    assert tunnel_target(httpx.URL("http://127.0.0.1:3000/other"), local) is None


async def test_302_location_is_called_on_the_local_api(tmp_path, clock):
    async with open_webhook() as server, open_webhook() as local_api:
        location = "http://127.0.0.1:3000/openwx/send_friend_message?id=filehelper&content=hello"
        answers = iter([(302, "text/plain", b"", {"Location": location})])

        def poll_answer(_):
            return next(answers, (200, "text/plain", b"nothing to do"))

        server.answer = poll_answer
        local_api.answer = lambda _: (200, "application/json", b'{"code":0,"status":"success"}')
        options = PollOptions(poll_api=server.url.replace("post_api", "poll"), poll_interval=5)
        poller = Poller(options, None, None, f"http://127.0.0.1:{local_api.port}", "tok")
        async with trio.open_nursery() as nursery:
            await nursery.start(poller.run)
            await local_api.wait_for(1)
            await trio.sleep(12)
            nursery.cancel_scope.cancel()
    call = local_api.requests[0]
    assert call.method == "GET"
    assert call.target == "/openwx/send_friend_message?id=filehelper&content=hello"
    assert call.headers["authorization"] == "Bearer tok"
    assert len(local_api.requests) == 1 and poller.stats.tunnel_calls == 1
    times = [r.at for r in server.requests]
    assert len(times) == 3  # at 0, after the tunnel call + 5 s, then + 5 s
    assert times[1] - times[0] == pytest.approx(5, abs=0.1)
    assert times[2] - times[1] == pytest.approx(5, abs=0.1)


async def test_held_poll_times_out_then_polls_again(tmp_path, clock):
    async with open_webhook() as server:
        server.mode = "hang"  # the intended server behaviour: hold the request
        poller = Poller(PollOptions(poll_api=server.url, poll_interval=5), None, None,
                        "http://127.0.0.1:1")
        async with trio.open_nursery() as nursery:
            await nursery.start(poller.run)
            await trio.sleep(35 + 5 + 35 + 1)
            nursery.cancel_scope.cancel()
    times = [r.at for r in server.requests]
    assert len(times) == 2
    assert times[1] - times[0] == pytest.approx(40, abs=0.5)  # 35 s timeout + 5 s interval
    assert poller.stats.failures == 2 and "Timeout" in poller.stats.last_error


async def test_unreachable_poll_api_is_retried_every_interval(clock):
    poller = Poller(PollOptions(poll_api="http://127.0.0.1:9/poll", poll_interval=5), None,
                    None, "http://127.0.0.1:1")
    async with trio.open_nursery() as nursery:
        await nursery.start(poller.run)
        await trio.sleep(12)
        nursery.cancel_scope.cancel()
    assert poller.stats.polls == 3 and poller.stats.failures == 3


async def test_ordinary_redirects_are_followed(clock):
    async with open_webhook() as server:
        def answer(got):
            if got.target == "/first":
                return 302, "text/plain", b"", {"Location": "/second"}
            return 200, "text/plain", b"ok"

        server.answer = answer
        poller = Poller(PollOptions(poll_api=f"http://127.0.0.1:{server.port}/first"), None,
                        None, "http://127.0.0.1:1")
        async with trio.open_nursery() as nursery:
            await nursery.start(poller.run)
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    assert [r.target for r in server.requests] == ["/first", "/second"]


async def test_polls_only_while_running(tmp_path, clock):
    """心跳请求: the worker polls while running; login and re-login pause it."""
    with EventLog.open(tmp_path / "e.db") as log:
        client = StateHolder(ClientState.scaning)
        async with open_webhook() as server:
            poller = Poller(PollOptions(poll_api=server.url, poll_interval=5), log, client,
                            "http://127.0.0.1:1")
            async with trio.open_nursery() as nursery:
                await nursery.start(poller.run)
                await trio.sleep(20)
                assert server.requests == []
                client.state = ClientState.running
                log.publish(models.event("state_change", "updating", "running"))
                await server.wait_for(1)
                started = trio.current_time()
                await trio.sleep(11)
                assert len(server.requests) == 3
                client.state = ClientState.loading  # session ended: re-login
                await trio.sleep(15)
                nursery.cancel_scope.cancel()
    assert len(server.requests) == 3
    assert server.requests[0].at == pytest.approx(started, abs=0.1)
