"""A real webhook on loopback for the delivery tests and the delivery benchmark.

A small HTTP/1.1 server (trio + h11, keep-alive) that records every request and can
be told to misbehave the ways a real webhook does: stop listening (connection
refused), answer 500, or hold requests without answering (client timeouts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal

import h11
import msgspec
import trio

Mode = Literal["ok", "error", "hang"]


class Received(msgspec.Struct):
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float  # trio.current_time() when the request was complete

    def json(self) -> dict:
        return msgspec.json.decode(self.body)


# status, content type, body, and optionally extra headers (e.g. Location)
Answer = Callable[[Received], tuple]


def _ok(_: Received) -> tuple:
    return 200, "application/json", b"{}"


class Webhook:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.port = 0
        self.mode: Mode = "ok"
        self.answer: Answer = _ok
        self.received: list[Received] = []  # requests answered with 2xx
        self.requests: list[Received] = []  # every complete request, whatever the answer
        self.connections = 0  # TCP connections accepted
        self.arrived = trio.Event()  # set (and replaced) on every accepted request
        self.requested = trio.Event()  # set (and replaced) on every complete request
        self._scope: trio.CancelScope | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/post_api"

    async def start(self) -> None:
        """Listen (again, on the same port after `stop`)."""
        self._scope = await self._nursery.start(self._serve)

    def stop(self) -> None:
        """Stop listening and drop open connections: new connects are refused."""
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None

    @property
    def attempts(self) -> int:
        return len(self.requests)

    async def wait_for(self, count: int) -> None:
        while len(self.received) < count:
            await self.arrived.wait()

    async def _serve(self, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                task_status.started(scope)
                await trio.serve_listeners(self._connection, listeners, handler_nursery=nursery)

    async def _connection(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                request = None
                body = bytearray()
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        try:
                            data = await stream.receive_some(65536)
                        except trio.BrokenResourceError:
                            return
                        conn.receive_data(data)
                        if not data and conn.their_state is not h11.SEND_BODY:
                            return
                        continue
                    if isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                got = Received(
                    method=request.method.decode(),
                    target=request.target.decode(),
                    headers={k.decode().lower(): v.decode() for k, v in request.headers},
                    body=bytes(body),
                    at=trio.current_time(),
                )
                self.requests.append(got)
                self.requested.set()
                self.requested = trio.Event()
                if self.mode == "hang":
                    await trio.sleep_forever()
                extra: list[tuple[str, str]] = []
                if self.mode == "error":
                    status, ctype, payload = 500, "text/plain", b"down for maintenance"
                else:
                    status, ctype, payload, *more = self.answer(got)
                    if more:
                        extra = list(more[0].items())
                if 200 <= status < 300:
                    self.received.append(got)
                    self.arrived.set()
                    self.arrived = trio.Event()
                headers = [("Content-Type", ctype), ("Content-Length", str(len(payload))), *extra]
                out = conn.send(h11.Response(status_code=status, headers=headers))
                out += conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage())
                try:
                    await stream.send_all(out)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()


@asynccontextmanager
async def open_webhook() -> AsyncIterator[Webhook]:
    async with trio.open_nursery() as nursery:
        hook = Webhook(nursery)
        await hook.start()
        yield hook
        nursery.cancel_scope.cancel()
