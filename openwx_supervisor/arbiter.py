"""The arbiter: every client's watcher, their ports, and the clients file.

``async with open_arbiter(config) as arbiter`` owns a nursery in which each
watcher runs its account's life. Leaving the block stops every worker
gracefully (in parallel) and saves the clients file, so the next supervisor
brings the same clients back. The controller API calls the verbs below.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
import trio

from .config import SupervisorConfig, check_client_options
from .launcher import ParentPipe, WorkerLauncher, effective_options
from .ports import NoPortAvailable, PortAllocator
from .proxy import Upstream
from .states import WatcherState
from .store import ClientRecord, load_clients, read_state_file, save_clients
from .watcher import Launcher, Timing, Watcher, pid_alive

log = logging.getLogger(__name__)


class TooManyClients(Exception):
    pass


class _ClientInfo(msgspec.Struct):
    pid: int | None = None


_info_decoder = msgspec.json.Decoder(_ClientInfo)


class Arbiter:
    def __init__(self, config: SupervisorConfig, nursery: trio.Nursery, launcher: Launcher,
                 http: Upstream) -> None:
        self.config = config
        self.watchers: dict[str, Watcher] = {}
        self.ports = PortAllocator(config.backend_start_port)
        self._nursery = nursery
        self._launcher = launcher
        self._http = http
        self._dirty = trio.Event()
        self._timing = Timing(
            check_interval=config.check_interval,
            start_timeout=config.start_timeout,
            probe_failures=config.probe_failures,
            graceful_timeout=config.graceful_timeout,
        )

    # -- verbs of the controller API ---------------------------------------------

    def start_client(self, name: str, options: dict[str, str]) -> bool:
        """Supervise ``name`` (True), or False if it is already supervised.

        Raises UnknownOptions / ConfigError for bad options, TooManyClients,
        NoPortAvailable. A client that exited, failed or was stopped is started
        again, with the new options if any were given.
        """
        watcher = self.watchers.get(name)
        if watcher is not None and watcher.supervising:
            return False
        check_client_options(name, effective_options(self.config, name, options))
        if watcher is None:
            if len(self.watchers) >= self.config.max_clients:
                raise TooManyClients(f"max clients ({self.config.max_clients}) reached")
            watcher = self._new_watcher(name, options)
        elif options:
            watcher.options = options
        self.ports.reserve(name)  # raises NoPortAvailable before anything starts
        watcher.start(self._nursery)
        self._mark_dirty()
        return True

    async def stop_client(self, name: str) -> bool:
        """Stop ``name``'s worker gracefully and forget the client; False if unknown."""
        watcher = self.watchers.get(name)
        if watcher is None:
            return False
        await watcher.stop()
        watcher.release_port()
        self.watchers.pop(name, None)
        self._mark_dirty()
        return True

    def tmpdir_of(self, name: str) -> str:
        watcher = self.watchers.get(name)
        options = watcher.options if watcher is not None else {}
        return effective_options(self.config, name, options)["tmpdir"]

    def worker_state(self, name: str) -> dict | None:
        return read_state_file(self.tmpdir_of(name), name)

    async def stop_all(self) -> None:
        async with trio.open_nursery() as nursery:
            for watcher in list(self.watchers.values()):
                nursery.start_soon(watcher.stop)

    # -- life ------------------------------------------------------------------------

    def _new_watcher(self, name: str, options: dict[str, str]) -> Watcher:
        async def probe(port: int) -> int | None:
            # read at each probe: start_client may have changed the options since
            token = effective_options(self.config, name, self.watchers[name].options).get(
                "access_token")
            headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
            reply = await self._http.get(port, "/openwx/get_client_info", headers)
            return _info_decoder.decode(reply).pid

        watcher = Watcher(
            name, options, launcher=self._launcher, probe=probe, ports=self.ports,
            policy=self.config.restart, timing=self._timing,
            on_change=lambda w: self._mark_dirty(),
        )
        self.watchers[name] = watcher
        return watcher

    def restore(self) -> None:
        """Bring back the saved clients, then the ``accounts`` of the configuration."""
        for name, record in load_clients(self.config.clients_path).items():
            if len(self.watchers) >= self.config.max_clients:
                log.error("clients file has more than max_clients (%s): %s left out",
                          self.config.max_clients, name)
                continue
            watcher = self._new_watcher(name, record.options)
            try:
                self.ports.reserve(name, preferred=record.port)
            except NoPortAvailable as exc:
                log.error("cannot restore account %s: %s", name, exc)
                continue
            if record.wanted:
                watcher.start(self._nursery, takeover_pid=self._left_behind(name, record))
        for name in self.config.accounts:
            try:
                self.start_client(name, {})
            except (ValueError, TooManyClients, NoPortAvailable) as exc:
                log.error("cannot start account %s: %s", name, exc)

    def _left_behind(self, name: str, record: ClientRecord) -> int | None:
        """The pid of a worker of ours still alive from before, checked against its state file."""
        if record.pid is None or not pid_alive(record.pid):
            return None
        state = self.worker_state(name) or {}
        if state.get("pid") != record.pid:
            return None  # the pid was recycled by an unrelated process
        return record.pid

    def _mark_dirty(self) -> None:
        self._dirty.set()

    def snapshot(self) -> dict[str, ClientRecord]:
        return {
            name: ClientRecord(
                options=w.options,
                wanted=w.supervising,
                port=w.port,
                pid=w.pid if w.state in (WatcherState.STARTING, WatcherState.RUNNING) else None,
            )
            for name, w in self.watchers.items()
        }

    async def saver(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Save the clients file after every change (coalescing bursts), until stop_saver()."""
        self._saver_done = trio.Event()
        try:
            with trio.CancelScope() as self._saver_scope:
                task_status.started()
                while True:
                    await self._dirty.wait()
                    self._dirty = trio.Event()
                    snapshot = self.snapshot()
                    await trio.to_thread.run_sync(save_clients, self.config.clients_path, snapshot)
        finally:
            self._saver_done.set()

    async def stop_saver(self) -> None:
        """Stop saving (a write in progress completes first): shutdown writes the last word."""
        self._saver_scope.cancel()
        await self._saver_done.wait()


@asynccontextmanager
async def open_arbiter(config: SupervisorConfig, http: Upstream, *,
                       launcher: Launcher | None = None, restore: bool = True
                       ) -> AsyncIterator[Arbiter]:
    """The arbiter, probing workers with ``http``; real workers unless ``launcher`` is given."""
    pipe = ParentPipe() if launcher is None else None
    try:
        async with trio.open_nursery() as nursery:
            arbiter = Arbiter(config, nursery, launcher or WorkerLauncher(config, pipe), http)
            await nursery.start(arbiter.saver)
            if restore:
                arbiter.restore()
            try:
                yield arbiter
            finally:
                with trio.CancelScope(shield=True):
                    final = arbiter.snapshot()  # before stopping: who should come back
                    await arbiter.stop_saver()
                    await arbiter.stop_all()
                    for record in final.values():
                        record.pid = None  # stopped just now
                    await trio.to_thread.run_sync(save_clients, config.clients_path, final)
                nursery.cancel_scope.cancel()
    finally:
        if pipe is not None:
            pipe.close()
