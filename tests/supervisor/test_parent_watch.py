"""openwx_worker.parent_watch: a worker notices its supervisor's end of the pipe closing."""

from __future__ import annotations

import os
import subprocess
import sys

import trio

from openwx_worker.parent_watch import (
    PARENT_FD_ENV,
    parent_fd_from_env,
    set_process_name,
    stop_when_parent_gone,
    wait_parent_gone,
)

CHILD = """
import sys, trio
from openwx_worker.parent_watch import parent_fd_from_env, wait_parent_gone
fd = parent_fd_from_env()
print("watching", flush=True)
trio.run(wait_parent_gone, fd)
print("parent gone", flush=True)
"""


async def test_eof_on_the_pipe_means_the_parent_is_gone():
    r, w = os.pipe()
    stopped = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_when_parent_gone, r, lambda: stopped.append(True))
        await trio.testing.wait_all_tasks_blocked()
        os.write(w, b"noise is ignored")
        await trio.testing.wait_all_tasks_blocked()
        assert stopped == []
        os.close(w)
    assert stopped == [True]


async def test_a_child_process_exits_when_its_parent_end_closes():
    r, w = os.pipe()
    env = {**os.environ, PARENT_FD_ENV: str(r)}
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", CHILD], env=env, pass_fds=(r,), stdout=subprocess.PIPE)
    os.close(r)
    try:
        with trio.fail_after(30):
            assert b"watching" in await proc.stdout.receive_some(100)
            os.close(w)  # the "supervisor" goes away
            assert await proc.wait() == 0
            rest = b""
            while chunk := await proc.stdout.receive_some(100):
                rest += chunk
            assert b"parent gone" in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_parent_fd_from_env():
    r, w = os.pipe()
    try:
        assert parent_fd_from_env({PARENT_FD_ENV: str(r)}) == r
        assert parent_fd_from_env({}) is None
        assert parent_fd_from_env({PARENT_FD_ENV: "nope"}) is None
        assert parent_fd_from_env({PARENT_FD_ENV: "987654"}) is None  # not open here
    finally:
        os.close(r)
        os.close(w)


async def test_wait_parent_gone_closes_its_fd():
    r, w = os.pipe()
    os.close(w)
    await wait_parent_gone(r)
    try:
        os.fstat(r)
        still_open = True
    except OSError:
        still_open = False
    assert not still_open


def test_set_process_name_on_linux():
    if not sys.platform.startswith("linux"):
        assert set_process_name("x") is False
        return
    with open("/proc/self/comm") as f:
        before = f.read().strip()
    try:
        assert set_process_name("openwx-test-name-longer-than-15")
        with open("/proc/self/comm") as f:
            assert f.read().strip() == "openwx-test-nam"
    finally:
        set_process_name(before)
