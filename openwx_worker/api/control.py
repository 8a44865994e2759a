"""The process: get_client_info and stop_client (reference A.14).

Both answer in every client state (a worker stuck at the QR code can be inspected
and stopped). stop_client answers first, then asks the worker to stop; the worker
runs its normal stop sequence (state ``stop``, ``stop`` event, pid file removed)
and exits within 3 s.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from openwx_worker import __version__

from .endpoint import Context, Endpoint
from .params import NoParams
from .replies import ClientInfoReply, StopReply
from .wire import Response, encode_json

log = logging.getLogger("openwx_worker.api")


def current_state(worker: Any) -> str:
    """The client's state by its wire name; ``init`` before the client exists."""
    client = getattr(worker, "client", None)
    state = getattr(client, "state", None) if client is not None else None
    if state is None:
        state = getattr(getattr(worker, "state", None), "state", None)
    return str(getattr(state, "value", state) or "init")


def _start_time(ctx: Context) -> int:
    machine = getattr(ctx.worker, "state", None)
    started = getattr(machine, "start_time", None)
    return int(started if started is not None else ctx.app.started)


def _port(ctx: Context) -> int | None:
    port = getattr(ctx.worker, "port", None)
    if port is None:
        port = getattr(getattr(ctx.worker, "state", None), "port", None)
    return port if isinstance(port, int) else None


async def get_client_info(ctx: Context, _: NoParams) -> ClientInfoReply:
    config = ctx.config
    start = _start_time(ctx)
    return ClientInfoReply(
        account=config.account,
        pid=os.getpid(),
        os=sys.platform,
        version=__version__,
        starttime=start,
        runtime=max(0, int(time.time()) - start),
        log_level=str(config.log_level),
        log_path=config.log_path or "",  # "" when unset, as Mojo::Weixin (A.14)
        state=current_state(ctx.worker),
        port=_port(ctx),
    )


def request_stop(worker: Any) -> None:
    """Ask the worker (or, failing that, its client) to stop."""
    target = worker if hasattr(worker, "request_stop") else getattr(worker, "client", None)
    if target is None or not hasattr(target, "request_stop"):
        log.error("stop_client: the worker has no request_stop()")
        return
    target.request_stop()


async def stop_client(ctx: Context, _: NoParams) -> Response:
    start = _start_time(ctx)
    pid = os.getpid()
    reply = StopReply(
        account=ctx.config.account,
        pid=pid,
        starttime=start,
        runtime=max(0, int(time.time()) - start),
        status=f"success, client({pid}) will stop in 3 seconds",
    )
    log.info("stop_client: stopping on request")
    worker = ctx.worker
    return Response(200, encode_json(reply), after_send=lambda: request_stop(worker))


ENDPOINTS = [
    Endpoint("get_client_info", get_client_info, NoParams, (ClientInfoReply,),
             "The worker process and its client state", needs_running=False),
    Endpoint("stop_client", stop_client, NoParams, (StopReply,),
             "Answer, then stop the worker cleanly (within 3 s)", needs_running=False),
]  # fmt: skip
