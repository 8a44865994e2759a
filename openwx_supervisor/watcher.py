"""One account's worker process: spawn it, watch it, restart it, stop it.

A :class:`Watcher` is owned by the arbiter and runs its account's life in a task
of the arbiter's nursery (``start``), one *life* (one process) after another:

    STARTING --probe answers--> RUNNING
       |  exit != 0, no answer in start_timeout,      | exit != 0, probe_failures
       |  or the wrong pid answers                    | missed probes in a row
       v                                              v
    BACKOFF (1, 2, 4 ... 60 s) --> STARTING     or FAILED when flapping
    exit 0 on its own --> EXITED (not restarted)
    stop() --> STOPPING (SIGTERM, graceful_timeout, SIGKILL) --> STOPPED

All changes go through :meth:`Watcher._change_state`. Time is
``trio.current_time()``; process spawning and the HTTP probe are injected
(:class:`Launcher`, :data:`Probe`), so the machine is tested with an autojump
clock and in-memory processes, and end to end with real workers.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from .policy import FailureTracker, RestartPolicy
from .ports import PortAllocator
from .states import TRANSITIONS, InvalidTransition, WatcherState

log = logging.getLogger(__name__)

S = WatcherState


class WorkerProcess(Protocol):
    """What a watcher needs of a process (``trio.Process`` has all of it)."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...


class Launcher(Protocol):
    async def spawn(self, name: str, options: dict, port: int) -> WorkerProcess: ...


# probe(port) -> the pid that answered (None: no pid in the reply); raises OSError-likes on failure
Probe = Callable[[int], Awaitable["int | None"]]


class Timing:
    """The watcher's intervals (seconds); a plain record so tests can shrink them."""

    def __init__(
        self,
        *,
        check_interval: float = 5.0,
        start_probe_interval: float = 0.1,  # first probe of a new worker; x1.5 up to 1 s
        start_timeout: float = 90.0,
        probe_failures: int = 3,
        graceful_timeout: float = 10.0,
    ) -> None:
        self.check_interval = check_interval
        self.start_probe_interval = start_probe_interval
        self.start_timeout = start_timeout
        self.probe_failures = probe_failures
        self.graceful_timeout = graceful_timeout


class Watcher:
    """Keeps one account's worker alive (see the module docstring for the states)."""

    def __init__(
        self,
        name: str,
        options: dict,
        *,
        launcher: Launcher,
        probe: Probe,
        ports: PortAllocator,
        policy: RestartPolicy,
        timing: Timing,
        on_change: Callable[[Watcher], None] = lambda w: None,
    ) -> None:
        self.name = name
        self.options = options
        self.state = S.STOPPED
        self.pid: int | None = None
        self.port: int | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.last_reason = ""  # why the last life ended badly (shown by check_client)
        self.next_start_at: float | None = None
        self._started_at: float | None = None
        self._launcher = launcher
        self._probe = probe
        self._ports = ports
        self._timing = timing
        self._tracker = FailureTracker(policy)
        self._on_change = on_change
        self._scope: trio.CancelScope | None = None
        self._finished = trio.Event()
        self._finished.set()
        self._changed = trio.Event()
        self._takeover_pid: int | None = None

    # -- public -------------------------------------------------------------

    @property
    def supervising(self) -> bool:
        """True while a life-cycle task runs (any state but STOPPED, EXITED, FAILED)."""
        return not self._finished.is_set()

    @property
    def uptime(self) -> float | None:
        if self._started_at is None or self.state not in (S.STARTING, S.RUNNING):
            return None
        return trio.current_time() - self._started_at

    def start(self, nursery: trio.Nursery, *, takeover_pid: int | None = None) -> bool:
        """Begin supervising (no-op, False, if already). Clears a ``failed`` verdict.

        ``takeover_pid``: a worker left by a previous supervisor on this account;
        it is stopped before the first spawn (it would refuse to share its files).
        """
        if self.supervising:
            return False
        self._tracker.reset()
        self._takeover_pid = takeover_pid
        self._finished = trio.Event()
        self._scope = trio.CancelScope()
        nursery.start_soon(self._supervise, self._scope)
        return True

    async def stop(self) -> None:
        """Stop the worker gracefully and wait until it is gone (state STOPPED)."""
        if self._scope is not None:
            self._scope.cancel()
        await self._finished.wait()
        self._change_state(S.STOPPED, "stopped")

    async def wait_state(self, *states: WatcherState) -> None:
        """Wait until the watcher is in one of ``states`` (used by tests and the CLI)."""
        while self.state not in states:
            await self._changed.wait()

    async def wait_spawned(self) -> None:
        """Wait until the current life has a pid, or has ended without one."""
        while self.pid is None and self.supervising and self.state is not S.BACKOFF:
            await self._changed.wait()

    def release_port(self) -> None:
        self._ports.release(self.name)
        self.port = None

    # -- the one function that moves between states ------------------------

    def _change_state(self, new: WatcherState, reason: str) -> None:
        old = self.state
        if new is old:
            return
        if new not in TRANSITIONS[old]:
            raise InvalidTransition(f"{self.name}: {old.value} -> {new.value}")
        self.state = new
        log.info("[%s] %s -> %s%s", self.name, old.value, new.value, f" ({reason})" if reason else "")
        self._poke()

    def _poke(self) -> None:
        """Something observable changed (state or pid): tell the owner and the waiters."""
        self._on_change(self)
        event, self._changed = self._changed, trio.Event()
        event.set()

    # -- the life cycle -----------------------------------------------------

    async def _supervise(self, scope: trio.CancelScope) -> None:
        try:
            with scope:
                if self._takeover_pid is not None:
                    await self._take_over(self._takeover_pid)
                while True:
                    deliberate = await self._one_life()
                    if deliberate:
                        self._change_state(S.EXITED, f"exited with status {self.last_exit}")
                        return
                    delay = self._tracker.record_failure(trio.current_time())
                    if delay is None:
                        self.last_reason = (
                            f"{self._tracker.recent_failures} failures within "
                            f"{self._tracker.policy.flap_window:g} s, last: {self.last_reason}")
                        self._change_state(S.FAILED, self.last_reason)
                        return
                    self.next_start_at = trio.current_time() + delay
                    self._change_state(S.BACKOFF, f"{self.last_reason}; restart in {delay:g} s")
                    await trio.sleep(delay)
                    self.next_start_at = None
                    self.restarts += 1
            # cancelled: stop() was called (a live process was already stopped in _one_life)
            self.next_start_at = None
            self._change_state(S.STOPPED, "stopped")
        except Exception as exc:  # a bug: this account stops being supervised, the others go on
            log.exception("[%s] supervision failed", self.name)
            self.last_reason = f"internal error: {exc!r}"
            self.state = S.FAILED  # bypasses the table on purpose: any state may break this way
            self._poke()
        finally:
            self._finished.set()

    async def _one_life(self) -> bool:
        """Run one process until it ends; True if it ended on purpose (status 0, not by us)."""
        self.port = self._ports.refresh(self.name)
        self._change_state(S.STARTING, f"port {self.port}")
        self._started_at = trio.current_time()
        try:
            proc = await self._launcher.spawn(self.name, self.options, self.port)
        except Exception as exc:  # no executable, no memory, too many processes...
            log.error("[%s] cannot spawn a worker: %r", self.name, exc)
            self.last_exit = None
            self.last_reason = f"spawn failed: {exc}"
            return False
        self.pid = proc.pid
        self._poke()
        unhealthy: list[str] = []
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._health_loop, proc, unhealthy)
                code = await proc.wait()
                nursery.cancel_scope.cancel()
        finally:
            if proc.returncode is None:
                with trio.CancelScope(shield=True):
                    self._change_state(S.STOPPING, "stop requested")
                    await self._terminate(proc)
                    self.pid = None
                    self._change_state(S.STOPPED, "stopped")
        self.last_exit = code
        self.pid = None
        if unhealthy:
            self.last_reason = unhealthy[0]
            return False
        if code == 0:
            return True
        self.last_reason = f"exited with status {code}" if code > 0 else f"killed by signal {-code}"
        return False

    async def _health_loop(self, proc: WorkerProcess, unhealthy: list[str]) -> None:
        t = self._timing
        deadline = trio.current_time() + t.start_timeout
        starting_interval = t.start_probe_interval
        misses = 0
        while proc.returncode is None:
            reason = await self._probe_once(proc)
            if reason is None:
                misses = 0
                if self.state is S.STARTING:
                    self._change_state(S.RUNNING, f"pid {proc.pid} answers on port {self.port}")
                self._tracker.healthy(trio.current_time())
            else:
                misses += 1
                if self.state is S.STARTING and trio.current_time() >= deadline:
                    unhealthy.append(f"no answer within {t.start_timeout:g} s ({reason})")
                elif self.state is S.RUNNING and misses >= t.probe_failures:
                    unhealthy.append(f"{misses} health probes failed ({reason})")
                if unhealthy:
                    log.warning("[%s] unhealthy: %s; killing pid %s", self.name, unhealthy[0], proc.pid)
                    await self._terminate(proc)
                    return
            if self.state is S.RUNNING:
                await trio.sleep(t.check_interval)
            else:  # soon for a quick start, then less often (many workers start at once)
                await trio.sleep(starting_interval)
                starting_interval = min(starting_interval * 1.5, max(t.start_probe_interval, 1.0))

    async def _probe_once(self, proc: WorkerProcess) -> str | None:
        """None if the worker answered as itself, else why not."""
        assert self.port is not None
        try:
            with trio.fail_after(max(self._timing.check_interval, 1.0)):
                pid = await self._probe(self.port)
        except trio.TooSlowError:
            return "probe timed out"
        except Exception as exc:  # any transport or decoding error means "no answer"
            return f"probe failed: {type(exc).__name__}"
        if pid is not None and pid != proc.pid:
            return f"port {self.port} answered by pid {pid}, not {proc.pid}"
        return None

    async def _terminate(self, proc: WorkerProcess) -> None:
        """SIGTERM the worker's process group, wait graceful_timeout, then SIGKILL it."""
        _signal_group(proc, signal.SIGTERM)
        with trio.move_on_after(self._timing.graceful_timeout):
            await proc.wait()
            return
        log.warning("[%s] pid %s ignored SIGTERM for %g s: SIGKILL", self.name, proc.pid,
                    self._timing.graceful_timeout)
        _signal_group(proc, signal.SIGKILL)
        await proc.wait()

    async def _take_over(self, pid: int) -> None:
        """Stop a worker of ours left running by a previous supervisor (not our child)."""
        if not pid_alive(pid):
            return
        log.info("[%s] taking over from pid %s left by a previous supervisor", self.name, pid)
        _kill_group(pid, signal.SIGTERM)
        with trio.move_on_after(self._timing.graceful_timeout):
            await wait_pid_gone(pid)
            return
        _kill_group(pid, signal.SIGKILL)
        await wait_pid_gone(pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not one of ours
    return True


async def wait_pid_gone(pid: int) -> None:
    """Wait for a process that is not our child to end (pidfd where available)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            os.close(pidfd)
        return
    while pid_alive(pid):  # noqa: ASYNC110 -- no pidfd on this platform: poll
        await trio.sleep(0.05)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _signal_group(proc: WorkerProcess, sig: int) -> None:
    """Signal the worker's process group (it leads its own), falling back to the process."""
    if proc.returncode is not None:
        return
    if isinstance(proc, trio.Process):
        _kill_group(proc.pid, sig)
    else:
        proc.send_signal(sig)


