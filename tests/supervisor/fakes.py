"""In-memory stand-ins for worker processes, for testing the watcher's state machine.

Only the restart machinery is tested with these; end-to-end tests use the real worker.
"""

from __future__ import annotations

import itertools
import signal

import trio
import trio.lowlevel

_pids = itertools.count(50_000)


class FakeProcess:
    """A 'process' that exits when told to, or when signalled (unless it ignores SIGTERM)."""

    def __init__(self, *, answers: bool = True, ignore_term: bool = False) -> None:
        self.pid = next(_pids)
        self.returncode: int | None = None
        self.answers = answers
        self.ignore_term = ignore_term
        self.signals: list[int] = []
        self._exited = trio.Event()

    def exit(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if sig == signal.SIGTERM and self.ignore_term:
            return
        self.exit(-sig)


class FakeLauncher:
    """Spawns FakeProcesses; ``behave(proc)`` runs in the background for each one."""

    def __init__(self, nursery: trio.Nursery, behave=None, **proc_kwargs) -> None:
        self.nursery = nursery
        self.behave = behave
        self.proc_kwargs = proc_kwargs
        self.spawned: list[tuple[float, FakeProcess]] = []
        self.by_port: dict[int, FakeProcess] = {}

    async def spawn(self, name: str, options: dict, port: int) -> FakeProcess:
        proc = FakeProcess(**self.proc_kwargs)
        self.spawned.append((trio.current_time(), proc))
        self.by_port[port] = proc
        if self.behave is not None:
            self.nursery.start_soon(self.behave, proc)
        return proc

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.spawned]

    async def probe(self, port: int) -> int | None:
        await trio.lowlevel.checkpoint()
        proc = self.by_port.get(port)
        if proc is None or proc.returncode is not None or not proc.answers:
            raise ConnectionRefusedError(port)
        return proc.pid
