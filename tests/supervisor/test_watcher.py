"""The watcher's state machine on in-memory processes, in virtual time (autojump clock)."""

from __future__ import annotations

import signal
from contextlib import asynccontextmanager

import pytest
import trio

from openwx_supervisor.policy import RestartPolicy
from openwx_supervisor.ports import PortAllocator
from openwx_supervisor.states import InvalidTransition, WatcherState
from openwx_supervisor.watcher import Timing, Watcher

from .fakes import FakeLauncher

S = WatcherState


@pytest.fixture
def clock():
    return trio.testing.MockClock(autojump_threshold=0)


@asynccontextmanager
async def watched(behave=None, *, policy=RestartPolicy(), **proc_kwargs):
    async with trio.open_nursery() as nursery:
        launcher = FakeLauncher(nursery, behave, **proc_kwargs)
        history: list[WatcherState] = []
        watcher = Watcher(
            "acct",
            {},
            launcher=launcher,
            probe=launcher.probe,
            ports=PortAllocator(41000),
            policy=policy,
            timing=Timing(check_interval=5, start_timeout=30, probe_failures=3, graceful_timeout=10),
            on_change=lambda w: history.append(w.state),
        )
        watcher.history = history
        yield watcher, launcher, nursery
        await watcher.stop()
        nursery.cancel_scope.cancel()


async def crash_at_once(proc):
    proc.exit(1)


async def test_a_healthy_worker_reaches_running(clock):
    async with watched() as (w, launcher, nursery):
        assert w.start(nursery)
        assert not w.start(nursery)  # already supervised
        await w.wait_state(S.RUNNING)
        assert w.pid == launcher.spawned[0][1].pid
        assert w.port is not None
        await trio.sleep(3600)  # stays up: probes keep answering
        assert len(launcher.spawned) == 1 and w.state is S.RUNNING and w.restarts == 0


async def test_a_worker_that_always_crashes_backs_off_then_fails(clock):
    async with watched(crash_at_once) as (w, launcher, nursery):
        t0 = trio.current_time()
        w.start(nursery)
        await w.wait_state(S.FAILED)
        assert [t - t0 for t in launcher.times] == [0, 1, 3, 7, 15]  # waits of 1, 2, 4, 8 s
        assert w.restarts == 4
        assert S.BACKOFF in w.history
        assert "5 failures" in w.last_reason and "status 1" in w.last_reason
        await trio.sleep(3600)
        assert len(launcher.spawned) == 5  # failed: no more restarts
        # start_client clears the verdict and tries again
        assert w.start(nursery)
        await w.wait_state(S.BACKOFF)
        assert len(launcher.spawned) == 6


async def test_a_killed_worker_is_restarted_after_one_second(clock):
    async with watched() as (w, launcher, nursery):
        w.start(nursery)
        await w.wait_state(S.RUNNING)
        launcher.spawned[0][1].exit(-signal.SIGKILL)
        await w.wait_state(S.BACKOFF)
        assert "signal 9" in w.last_reason
        t = trio.current_time()
        await w.wait_state(S.RUNNING)
        assert launcher.times[1] - t == 1
        assert w.restarts == 1


async def test_backoff_resets_after_sixty_seconds_healthy(clock):
    async with watched() as (w, launcher, nursery):
        w.start(nursery)
        for _ in range(3):  # three quick deaths: waits 1, 2, 4
            await w.wait_state(S.RUNNING)
            launcher.spawned[-1][1].exit(1)
            await w.wait_state(S.BACKOFF)
        await w.wait_state(S.RUNNING)
        await trio.sleep(61)
        t = trio.current_time()
        launcher.spawned[-1][1].exit(1)
        await w.wait_state(S.BACKOFF)
        await w.wait_state(S.RUNNING)
        assert launcher.times[-1] - t == 1


async def test_exit_zero_on_purpose_is_not_restarted(clock):
    async def stop_soon(proc):
        await trio.sleep(10)
        proc.exit(0)

    async with watched(stop_soon) as (w, launcher, nursery):
        w.start(nursery)
        await w.wait_state(S.EXITED)
        await trio.sleep(3600)
        assert len(launcher.spawned) == 1 and w.state is S.EXITED


async def test_stop_sends_sigterm_and_does_not_restart(clock):
    async with watched() as (w, launcher, nursery):
        w.start(nursery)
        await w.wait_state(S.RUNNING)
        await w.stop()
        proc = launcher.spawned[0][1]
        assert proc.signals == [signal.SIGTERM]
        assert w.state is S.STOPPED and w.history[-2:] == [S.STOPPING, S.STOPPED]
        assert w.pid is None and w.uptime is None
        await trio.sleep(3600)
        assert len(launcher.spawned) == 1


async def test_stop_kills_a_worker_that_ignores_sigterm_after_graceful_timeout(clock):
    async with watched(ignore_term=True) as (w, launcher, nursery):
        w.start(nursery)
        await w.wait_state(S.RUNNING)
        t = trio.current_time()
        await w.stop()
        assert trio.current_time() - t == 10
        assert launcher.spawned[0][1].signals == [signal.SIGTERM, signal.SIGKILL]


async def test_stop_during_backoff(clock):
    async with watched(crash_at_once) as (w, launcher, nursery):
        w.start(nursery)
        await w.wait_state(S.BACKOFF)
        await w.stop()
        assert w.state is S.STOPPED
        await trio.sleep(3600)
        assert len(launcher.spawned) == 1


async def test_a_worker_that_stops_answering_is_killed_and_restarted(clock):
    async with watched() as (w, launcher, nursery):
        w.start(nursery)
        await w.wait_state(S.RUNNING)
        first = launcher.spawned[0][1]
        first.answers = False
        await w.wait_state(S.BACKOFF)
        assert first.signals == [signal.SIGTERM]
        assert "3 health probes failed" in w.last_reason
        await w.wait_state(S.RUNNING)
        assert len(launcher.spawned) == 2


async def test_a_worker_that_never_answers_is_killed_after_start_timeout(clock):
    async with watched(answers=False) as (w, launcher, nursery):
        t = trio.current_time()
        w.start(nursery)
        await w.wait_state(S.BACKOFF)
        assert 30 <= trio.current_time() - t <= 31
        assert "no answer within 30 s" in w.last_reason


async def test_the_wrong_pid_on_the_port_is_not_healthy(clock):
    async with watched() as (w, launcher, nursery):
        real_probe = launcher.probe

        async def impostor(port):
            await real_probe(port)
            return 1  # someone else answers on our port

        w._probe = impostor
        w.start(nursery)
        await w.wait_state(S.BACKOFF)
        assert "answered by pid 1" in w.last_reason


async def test_invalid_transitions_are_refused(clock):
    async with watched() as (w, launcher, nursery):
        with pytest.raises(InvalidTransition):
            w._change_state(S.RUNNING, "no")


async def test_a_worker_that_cannot_be_spawned_backs_off_then_fails(clock):
    async with watched() as (w, launcher, nursery):
        async def no_executable(name, options, port):
            raise FileNotFoundError("openwx-worker")

        launcher.spawn = no_executable
        w.start(nursery)
        await w.wait_state(S.FAILED)
        assert "spawn failed" in w.last_reason and w.restarts == 4


async def test_a_bug_fails_one_account_not_the_supervisor(clock):
    async with watched() as (w, launcher, nursery):
        def broken_refresh(owner):
            raise RuntimeError("bug")

        w._ports.refresh = broken_refresh
        w.start(nursery)
        await w.wait_state(S.FAILED)
        assert "internal error" in w.last_reason and not w.supervising
