"""What a handler is and what it gets.

An :class:`Endpoint` is a row of the route table: its name (the path after
``/openwx/``), the parameter Struct, the reply Structs (for ``/openapi.json``) and
the handler. A handler is ``async def handler(ctx, params) -> reply`` where the
reply is a Struct, a list, a dict or a ready :class:`~.wire.Response` (images);
failures are raised (:class:`~.codes.ApiError` or a client error), never returned.

:class:`Context` is everything one request may touch: the worker (client, config,
events), the app's services (media fetching, the sent-message map, background
tasks) and the request itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from .multipart import FilePart
from .params import Params

if TYPE_CHECKING:
    from .app import ApiApp


Handler = Callable[["Context", Any], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    """One API endpoint, as the router and the OpenAPI generator see it."""

    name: str
    handler: Handler
    params: type[Params]
    replies: tuple[type, ...]
    summary: str
    #: False for the endpoints that answer in every client state.
    needs_running: bool = True
    #: Extra OpenAPI description (behaviour, edge cases).
    description: str = ""
    #: The success answer is not JSON (get_avatar).
    content_type: str = "application/json"


@dataclass
class Context:
    """One request as a handler sees it."""

    app: ApiApp
    params: dict[str, str]
    files: list[FilePart] = field(default_factory=list)
    receive: Callable[[], Awaitable[dict]] | None = None

    @property
    def worker(self) -> Any:
        return self.app.worker

    @property
    def client(self) -> Any:
        return self.app.worker.client

    @property
    def config(self) -> Any:
        return self.app.worker.config

    @property
    def events(self) -> Any:
        return self.app.worker.events

    async def hold(self, seconds: float, wait: Callable[[], Awaitable[Any]]) -> Any:
        """``await wait()`` for at most ``seconds``; None on timeout or when the client leaves.

        Long waits (check_event, consult) stop as soon as the HTTP client is gone, so
        nothing is taken from a buffer for an answer nobody will read (reference H.4).
        """
        result = None

        async def run(cancel: trio.CancelScope) -> None:
            nonlocal result
            result = await wait()
            cancel.cancel()

        async def watch(cancel: trio.CancelScope) -> None:
            await self.until_disconnect()
            cancel.cancel()

        with trio.move_on_after(seconds):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run, nursery.cancel_scope)
                nursery.start_soon(watch, nursery.cancel_scope)
        return result

    async def until_disconnect(self) -> None:
        """Return when the HTTP client goes away (the body has been read already)."""
        if self.receive is None:
            await trio.sleep_forever()
        while True:
            message = await self.receive()  # type: ignore[misc]
            if message["type"] == "http.disconnect":
                return
