"""One worker process: ``async with open_worker(config) as worker``.

Opens, in order, and closes in reverse:

1. the account's files (``state.open_state``: pid guard, state file; on exit the
   state file says ``stop``, the pid and qrcode files are gone, the cookie stays);
2. the event log (``events.open_event_log``);
3. the HTTP API (hypercorn, trio worker) on ``config.host:config.port`` — port 0
   picks a free port, exposed as ``worker.port`` and written into the state file;
   it starts before the client so the API answers (with "not running") during login;
4. the client (``client.open_client``): login, sync, re-login;
5. post_api delivery and poll_api (``delivery.open_delivery``).

The worker lives until :meth:`Worker.request_stop` (stop_client, SIGTERM/SIGINT in
:func:`run_worker`) or until the client stops by itself (e.g. the QR code expired
too often).  Stopping lets delivery flush the final ``stop`` event briefly and
exits within 3 s.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from openwx_worker.client import WeixinClient, run_client
from openwx_worker.config import WorkerConfig
from openwx_worker.events import EventLog, open_event_log
from openwx_worker.state import StateMachine, open_state
from openwx_worker.webwx.session import open_http

log = logging.getLogger(__name__)

FLUSH_GRACE = 0.8  # seconds delivery may take to post the final events at stop


class Worker:
    """What the API app and the CLI see of a running worker."""

    def __init__(self, config: WorkerConfig, state: StateMachine, events: EventLog,
                 client: WeixinClient):
        self.config = config
        self.state = state
        self.events = events
        self.client = client
        self.port: int | None = None
        self.delivery = None
        self._stop = trio.Event()

    def request_stop(self) -> None:
        """Stop the worker (idempotent, returns at once)."""
        self.client.request_stop()
        self._stop.set()

    async def wait_stopped(self) -> None:
        """Return when the worker should exit: a stop request or a client that stopped
        by itself, once the client has finished stopping."""
        async with trio.open_nursery() as nursery:
            async def stop_on(wait) -> None:
                await wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on, self._stop.wait)
            nursery.start_soon(stop_on, self.client.wait_stopped)
        await self.client.wait_stopped()


def _hypercorn_config(config: WorkerConfig) -> HypercornConfig:
    hc = HypercornConfig()
    host = config.host
    hc.bind = [f"[{host}]:{config.port}" if ":" in host else f"{host}:{config.port}"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("openwx_worker.api.server")
    hc.graceful_timeout = 0.5
    hc.keep_alive_timeout = 130  # longer than the longest long-poll
    # hypercorn closes a keep-alive connection after 1,000 requests by default, and its
    # close path then fails the in-flight answer (BusyResourceError); bots keep one open.
    hc.keep_alive_max_requests = 1_000_000
    return hc


async def serve_api(app, config: WorkerConfig, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the API app; ``task_status.started(port)`` once bound."""

    class _Status:
        def started(self, binds: list[str]) -> None:
            port = int(httpx.URL(binds[0]).port or 0)
            task_status.started(port)

    await serve(app, _hypercorn_config(config), task_status=_Status(), mode="asgi")


@asynccontextmanager
async def open_worker(config: WorkerConfig, *, http: httpx.AsyncClient | None = None,
                      ) -> AsyncIterator[Worker]:
    """Run one account for the duration of the block (see the module docstring).

    ``http`` replaces the WeChat HTTP client (tests); it is then not closed here.
    Raises ``state.AlreadyRunning`` before anything starts if the account is taken.
    """
    from openwx_worker.api import create_app

    with open_state(config) as machine, open_event_log(config) as events:
        own_http = http is None
        wechat_http = http or open_http(config.wechat_base)
        listening = False
        try:
            client = WeixinClient(config, machine, events, wechat_http)
            worker = Worker(config, machine, events, client)
            async with trio.open_nursery() as nursery:
                port = await nursery.start(serve_api, create_app(worker), config)
                listening = True
                worker.port = port
                machine.set_port(port)
                log.info("Openwx API on http://%s:%d/openwx/", config.host, port)
                async with run_client(client), _delivery(config, events, client, port) as d:
                    worker.delivery = d
                    try:
                        yield worker
                    finally:
                        client.request_stop()
                        with trio.CancelScope(shield=True):
                            await client.wait_stopped()
                            await _flush(worker)
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            bind_error = None if listening else _os_error(group)
            if bind_error is not None:  # e.g. port taken: one clear error, not a group
                raise bind_error from None
            raise
        finally:
            if own_http:
                with trio.CancelScope(shield=True):
                    await wechat_http.aclose()


def _os_error(group: BaseExceptionGroup) -> OSError | None:
    """The OSError (a failed bind) inside an exception group, if there is one."""
    for exc in group.exceptions:
        if isinstance(exc, OSError):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (found := _os_error(exc)) is not None:
            return found
    return None


@asynccontextmanager
async def _delivery(config: WorkerConfig, events: EventLog, client: WeixinClient, port: int):
    try:
        from openwx_worker.delivery import open_delivery
    except ImportError:  # the events engineer's module is not there yet
        yield None
        return
    async with open_delivery(config, events, client, local_api=f"http://127.0.0.1:{port}",
                             access_token=config.access_token) as delivery:
        yield delivery


async def _flush(worker: Worker) -> None:
    """Give post_api delivery a moment to post the last events (stop) before exit."""
    delivery = worker.delivery
    if delivery is None:
        return
    with trio.move_on_after(FLUSH_GRACE):
        while delivery.statistics().backlog > 0:  # noqa: ASYNC110 - no event to wait on
            await trio.sleep(0.02)


async def run_worker(config: WorkerConfig) -> int:
    """The CLI's entry: run until stopped; SIGTERM/SIGINT stop gracefully. Exit status."""
    from openwx_worker.parent_watch import (
        parent_fd_from_env,
        set_process_name,
        stop_when_parent_gone,
    )

    set_process_name(f"wx:{config.account}")  # ps/top name the account (15 bytes on Linux)
    async with open_worker(config) as worker:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signals, worker)
            fd = parent_fd_from_env()
            if fd is not None:
                nursery.start_soon(stop_when_parent_gone, fd, worker.request_stop)
            await worker.wait_stopped()
            nursery.cancel_scope.cancel()
    return 0


async def _stop_on_signals(worker: Worker) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("signal %s: stopping", signal.Signals(signum).name)
            worker.request_stop()

