"""End to end: the supervisor, real ``openwx-worker`` processes and an in-process wechat_sim.

Each test runs the real programs over loopback HTTP. Time is real here (they are
processes), so the restart policy is shortened; waits are bounded by fail_after
as a safety net, never used as assertions.
"""

from __future__ import annotations

import json
import os
import signal
from contextlib import asynccontextmanager

import httpx
import pytest
import trio

from openwx_supervisor.server import open_supervisor
from openwx_supervisor.states import WatcherState
from openwx_supervisor.watcher import pid_alive
from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig
from wechat_sim.worldgen import generate

from .helpers import fast_config, free_port, open_cli, poll_until

S = WatcherState
WORKER_DEFAULTS = {"qrcode_terminal": False, "send_interval": 0.0, "log_level": "warning"}
SAFETY = 60  # seconds: only to turn a hang into a failure


@pytest.fixture
async def sim():
    world = generate(accounts=4, friends=3, groups=1, members=3,
                     config=SimConfig(auto_confirm=True, auto_delay=0.05))
    async with open_sim(world, auto_confirm=True) as running_sim:
        yield running_sim


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        yield client


def e2e_config(tmp_path, sim, **overrides):
    return fast_config(tmp_path, mode=None, wechat_base=sim.base_url, worker=WORKER_DEFAULTS,
                       **overrides)


def qr_logins(sim) -> int:
    """QR codes handed out so far (a cookie resume needs none)."""
    return sum(1 for login in sim.world.logins.values() if not login.push)


async def worker_state(http, url, name):
    reply = (await http.get(f"{url}/openwx/check_client", params={"client": name})).json()
    return reply["client"][0]


async def until_logged_in(http, url, *names):
    """Poll check_client until each worker's own state is running."""
    with trio.fail_after(SAFETY):
        for name in names:
            while (await worker_state(http, url, name))["state"] != "running":  # noqa: ASYNC110 -- another process: poll
                await trio.sleep(0.1)


async def test_two_accounts_log_in_and_answer_through_the_proxy(tmp_path, sim, http):
    async with open_supervisor(e2e_config(tmp_path, sim, accounts=("a", "b"))) as sup:
        await until_logged_in(http, sup.url, "a", "b")
        users = []
        for name in ("a", "b"):
            r = await http.get(f"{sup.url}/openwx/get_user_info", params={"client": name})
            assert r.status_code == 200
            users.append(r.json())
        assert users[0]["id"] != users[1]["id"]  # two different phones
        assert {u["displayname"] for u in users} <= {a.person.nickname
                                                     for a in sim.world.accounts.values()}
        r = await http.post(f"{sup.url}/openwx/search_friend?client=a",
                            data={"displayname": "filehelper"})
        assert r.status_code == 200
        entry = await worker_state(http, sup.url, "a")
        assert entry["supervisor_state"] == "running" and entry["port"] == sup.arbiter.watchers["a"].port
        assert entry["account"] == "a" and entry["pid"] == sup.arbiter.watchers["a"].pid
        # as the original: the worker's own state JSON, every field unchanged, plus port
        state_file = json.loads(await trio.Path(
            tmp_path / "tmp" / "mojo_weixin_state_a.json").read_text())
        assert len(state_file) >= 5
        assert {k: entry[k] for k in state_file} == state_file


async def test_a_killed_worker_comes_back_without_a_new_qr_code(tmp_path, sim, http):
    async with open_supervisor(e2e_config(tmp_path, sim, accounts=("a",))) as sup:
        await until_logged_in(http, sup.url, "a")
        qr_before = qr_logins(sim)
        w = sup.arbiter.watchers["a"]
        old = w.pid
        os.kill(old, signal.SIGKILL)
        with trio.fail_after(SAFETY):
            await w.wait_state(S.BACKOFF)
            await w.wait_state(S.RUNNING)
        await until_logged_in(http, sup.url, "a")
        assert w.pid != old and w.restarts == 1
        assert qr_logins(sim) == qr_before  # resumed from the cookie
        r = await http.get(f"{sup.url}/openwx/get_user_info", params={"client": "a"})
        assert r.json()["id"]


async def test_a_worker_that_always_crashes_ends_failed(tmp_path, sim, http):
    """A bad option the worker only discovers at run time (a log file it cannot create)."""
    async with open_supervisor(e2e_config(tmp_path, sim)) as sup:
        r = (await http.get(f"{sup.url}/openwx/start_client",
                            params={"client": "bad", "log_path": "/dev/null/openwx.log"})).json()
        assert r["code"] == 0
        w = sup.arbiter.watchers["bad"]
        with trio.fail_after(SAFETY):
            await w.wait_state(S.FAILED)
        entry = await worker_state(http, sup.url, "bad")
        assert entry["supervisor_state"] == "failed" and entry["restarts"] == 3
        assert "failures within" in entry["reason"]
        r = await http.get(f"{sup.url}/openwx/get_user_info", params={"client": "bad"})
        assert r.status_code == 503 and r.json()["code"] == 8


async def test_stop_client_is_not_restarted_and_unknown_options_are_refused(tmp_path, sim, http):
    async with open_supervisor(e2e_config(tmp_path, sim, accounts=("a",))) as sup:
        await until_logged_in(http, sup.url, "a")
        r = (await http.get(f"{sup.url}/openwx/start_client",
                            params={"client": "x", "eval": "print(1)"})).json()
        assert r["code"] == 6 and "eval" in r["status"]
        assert "x" not in sup.arbiter.watchers
        pid = sup.arbiter.watchers["a"].pid
        r = (await http.get(f"{sup.url}/openwx/stop_client", params={"client": "a"})).json()
        assert r["code"] == 0 and r["status"] == "success"
        assert not pid_alive(pid)
        await trio.sleep(1)  # several check intervals
        r = (await http.get(f"{sup.url}/openwx/check_client")).json()
        assert r == {"code": 0, "status": "success", "client": []}
        r = await http.get(f"{sup.url}/openwx/get_user_info", params={"client": "a"})
        assert r.json() == {"code": 1, "status": "client not exists"}


async def test_clients_come_back_after_a_supervisor_restart(tmp_path, sim, http):
    config = e2e_config(tmp_path, sim, accounts=("a",))
    async with open_supervisor(config) as sup:
        await until_logged_in(http, sup.url, "a")
        r = (await http.get(f"{sup.url}/openwx/start_client", params={"client": "b"})).json()
        assert r["code"] == 0
        await until_logged_in(http, sup.url, "b")
        pids = [w.pid for w in sup.arbiter.watchers.values()]
    assert not any(pid_alive(p) for p in pids)
    qr_before = qr_logins(sim)
    async with open_supervisor(e2e_config(tmp_path, sim)) as sup:
        assert set(sup.arbiter.watchers) == {"a", "b"}
        await until_logged_in(http, sup.url, "a", "b")
    assert qr_logins(sim) == qr_before


@asynccontextmanager
async def cli_with_two_accounts(tmp_path, sim, http, *, port_offset=0):
    """The real CLI in a process of its own, accounts a and b logged in: (process, worker pids)."""
    listen_port = free_port()
    url = f"http://127.0.0.1:{listen_port}"
    async with open_cli(
            "start", "--accounts", "a,b", "--listen", f"127.0.0.1:{listen_port}",
            "--backend-start-port", str(fast_config(tmp_path).backend_start_port + port_offset),
            "--tmpdir", str(tmp_path / "tmp"), "--wechat-base", sim.base_url,
            "--config", str(_config_file(tmp_path)),
            stderr=open(tmp_path / "sup.log", "wb")) as proc:  # noqa: ASYNC230,SIM115
        async def logged_in():
            await until_logged_in(http, url, "a", "b")
            return True

        with trio.fail_after(SAFETY):
            await poll_until(logged_in)
        entries = (await http.get(f"{url}/openwx/check_client")).json()["client"]
        pids = [e["pid"] for e in entries]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        yield proc, pids


async def test_sigterm_stops_everything_and_leaves_no_process(tmp_path, sim, http):
    """SIGTERM -> exit 0 and no worker left."""
    async with cli_with_two_accounts(tmp_path, sim, http) as (proc, pids):
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(SAFETY):
            code = await proc.wait()
        assert code == 0
        assert not any(pid_alive(p) for p in pids)
        assert not await trio.Path(tmp_path / "tmp" / "mojo_weixin_controller_process.pid").exists()


def _config_file(tmp_path):
    path = tmp_path / "supervisor.toml"
    path.write_text(
        f'data_root = "{tmp_path / "data"}"\ncheck_interval = 0.5\n'
        "[worker]\nqrcode_terminal = false\nsend_interval = 0.0\n")
    return path
