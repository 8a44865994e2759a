"""open_worker / run_worker: files, API server on port 0, graceful stop."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
import trio

from openwx_worker.runtime import open_worker, run_worker
from openwx_worker.state import AlreadyRunning, ClientState
from openwx_worker.testing import running_worker, ticking, worker_config
from wechat_sim.testing import open_sim


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


async def test_worker_serves_api_on_bound_port(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_worker(sim, tmp_path) as worker:
        assert worker.port and worker.port != 0
        async with httpx.AsyncClient() as http:
            r = await http.get(f"http://127.0.0.1:{worker.port}/openwx/get_client_info")
        assert r.json()["state"] == "running"
        state = json.loads(worker.state.files.state_path.read_bytes())
        assert state["port"] == worker.port and state["pid"] == os.getpid()


async def test_second_worker_for_same_account_is_refused(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_worker(sim, tmp_path):
        with pytest.raises(AlreadyRunning):
            async with open_worker(worker_config(sim, tmp_path)):
                pass


async def test_stop_client_endpoint_stops_the_worker(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_worker(sim, tmp_path) as worker:
        async with httpx.AsyncClient() as http:
            r = await http.get(f"http://127.0.0.1:{worker.port}/openwx/stop_client")
        assert r.json()["code"] == 0
        with trio.fail_after(3):
            await worker.wait_stopped()
        assert worker.client.state is ClientState.stop


async def test_run_worker_exits_0_on_sigterm(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim:
        config = worker_config(sim, tmp_path)
        files_dir = tmp_path / "tmp"
        result = []

        async def run():
            result.append(await run_worker(config))

        async with ticking(), trio.open_nursery() as nursery:
            nursery.start_soon(run)
            state_path = files_dir / "mojo_weixin_state_test.json"

            def running() -> bool:
                return state_path.exists() and json.loads(state_path.read_bytes())[
                    "state"] == "running"

            with trio.fail_after(600):
                while not running():  # noqa: ASYNC110 - the file is the only signal
                    await trio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)
        assert result == [0]
        assert not (files_dir / "mojo_weixin_pid_test.pid").exists()
        assert (files_dir / "mojo_weixin_cookie_test.dat").exists()
        state = json.loads((files_dir / "mojo_weixin_state_test.json").read_bytes())
        assert state["state"] == "stop"


async def test_port_in_use_is_one_clear_oserror(tmp_path, clock):
    import errno
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        async with open_sim() as sim:
            config = worker_config(sim, tmp_path, port=taken.getsockname()[1])
            with pytest.raises(OSError) as info:
                async with open_worker(config):
                    pass
            assert info.value.errno == errno.EADDRINUSE
    finally:
        taken.close()
