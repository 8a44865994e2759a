"""A send whose answer is lost after WeChat accepted it is retried, and delivered once.

Between the worker and the simulator sits a small TCP proxy on loopback that lets the
first webwxsendmsg request through to the simulator (which delivers the message) and
then closes the worker's connection instead of passing the answer on: exactly the
case where a client cannot know whether its message went out.  The retry must reuse
the ClientMsgId, so the simulator (like WeChat, web-protocol.md strict 12) recognises
it and the contact gets the message once.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from openwx_worker.testing import running_client
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


class AnswerLosingProxy:
    """Forwards TCP to ``target``; the answer to the first request naming ``path`` is
    swallowed and that connection closed."""

    def __init__(self, target_port: int, path: bytes):
        self.target_port, self.path = target_port, path
        self.swallowed = 0

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        armed = False
        async with client, server, trio.open_nursery() as nursery:

            async def upstream() -> None:
                nonlocal armed
                try:
                    async for data in client:
                        if self.path in data and not self.swallowed:
                            armed = True
                        await server.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                nursery.cancel_scope.cancel()

            async def downstream() -> None:
                try:
                    async for data in server:
                        if armed:  # WeChat answered: the worker never hears it
                            self.swallowed += 1
                            break
                        await client.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(upstream)
            nursery.start_soon(downstream)


async def test_lost_answer_is_retried_with_the_same_client_msg_id(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, trio.open_nursery() as nursery:
        proxy = AnswerLosingProxy(int(sim.base_url.rsplit(":", 1)[1]), b"webwxsendmsg")
        port = await nursery.start(proxy.serve)
        async with running_client(sim, tmp_path, wechat_base=f"http://127.0.0.1:{port}") as h:
            carol = h.client.contacts.first_friend(name="Carol")
            result = await h.client.send_text(carol.id, "exactly once")
            assert proxy.swallowed == 1  # the first try reached WeChat, its answer did not
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                sent = (await http.get(f"/sim/accounts/{ALICE}/sent")).json()
                tries = (await http.get("/sim/requests",
                                        params={"path": "webwxsendmsg"})).json()
            assert len(tries) == 2  # both tries were answered by the simulator
            assert [s["msg_id"] for s in sent if s["content"] == "exactly once"] == [
                result.msg_id]
            reports = [i for i in h.events.read_after(0, 10_000)
                       if getattr(i, "content", None) == "exactly once"]
            assert len(reports) == 1 and reports[0].id == result.id
        nursery.cancel_scope.cancel()
