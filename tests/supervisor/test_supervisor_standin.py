"""The supervisor with real processes (the stand-in worker): API, proxy, restarts, persistence.

The stand-in answers like a worker without logging in, so these tests exercise
spawning, probing, restarting and proxying in well under a second each; the
end-to-end tests in test_e2e.py repeat the important ones with the real worker.
"""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
import trio

from openwx_supervisor.server import AlreadyRunning, open_supervisor
from openwx_supervisor.states import WatcherState
from openwx_supervisor.watcher import pid_alive

from .helpers import fast_config

S = WatcherState


async def running(sup, *names):
    with trio.fail_after(20):
        for name in names:
            await sup.arbiter.watchers[name].wait_state(S.RUNNING)


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=20, trust_env=False) as client:
        yield client


async def test_accounts_start_and_check_client_reports_them(tmp_path, http):
    config = fast_config(tmp_path, accounts=("a", "b"))
    async with open_supervisor(config) as sup:
        await running(sup, "a", "b")
        reply = (await http.get(f"{sup.url}/openwx/check_client")).json()
        assert reply["code"] == 0
        entries = {e["client"]: e for e in reply["client"]}
        assert set(entries) == {"a", "b"}
        a = entries["a"]
        assert a["supervisor_state"] == "running" and a["state"] == "running"
        assert a["pid"] == sup.arbiter.watchers["a"].pid and a["restarts"] == 0
        assert entries["a"]["port"] != entries["b"]["port"]
        for e in entries.values():  # each worker leads a process group of its own
            assert os.getpgid(e["pid"]) == e["pid"] != os.getpgid(0)
        # settings were explicit flags; no OPENWX_* leaked except the parent pipe
        assert "--account" in a["argv"] and "--port" in a["argv"]
        assert a["scrubbed"] == ["OPENWX_PARENT_FD"] and a["parent_fd"]
        one = (await http.post(f"{sup.url}/openwx/check_client", data={"client": "b"})).json()
        assert [e["client"] for e in one["client"]] == ["b"]
        none = (await http.get(f"{sup.url}/openwx/check_client?client=zz")).json()
        assert none == {"code": 1, "status": "client not exists"}
        health = (await http.get(f"{sup.url}/healthz")).json()
        assert health["states"] == {"running": 2}


async def test_proxy_relays_both_ways_and_explains_errors(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path, accounts=("a",))) as sup:
        await running(sup, "a")
        r = await http.get(f"{sup.url}/openwx/echo?client=a&x=%E4%BD%A0")
        assert r.json() == {"code": 0, "method": "GET", "query": "client=a&x=%E4%BD%A0",
                            "size": 0, "account": "a"}
        assert r.headers["x-standin"] == "a"
        upload = b"x" * 3_000_000
        r = await http.post(f"{sup.url}/openwx/echo?client=a", content=upload)
        assert r.json()["size"] == len(upload)

        async def chunks():
            for _ in range(4):
                yield b"y" * 1000

        r = await http.post(f"{sup.url}/openwx/echo?client=a", content=chunks())
        assert r.json()["size"] == 4000
        async with http.stream("GET", f"{sup.url}/openwx/stream?client=a") as r:
            parts = [line async for line in r.aiter_lines()]
        assert parts == ["part0", "part1", "part2"]
        r = await http.get(f"{sup.url}/openwx/nope?client=a")
        assert r.status_code == 403 and r.text == "api not found"  # the worker's own answer
        r = await http.get(f"{sup.url}/openwx/echo")
        assert r.json() == {"code": 1, "status": "client not found"}
        r = await http.get(f"{sup.url}/openwx/echo?client=zz")
        assert r.json() == {"code": 1, "status": "client not exists"}
        r = await http.get(f"{sup.url}/elsewhere")
        assert r.status_code == 403 and r.json()["code"] == -1
        await sup.arbiter.watchers["a"].stop()
        r = await http.get(f"{sup.url}/openwx/echo?client=a")
        assert r.status_code == 503
        assert r.json()["code"] == 8 and r.json()["supervisor_state"] == "stopped"


async def test_a_killed_worker_is_restarted(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path, accounts=("a",))) as sup:
        await running(sup, "a")
        w = sup.arbiter.watchers["a"]
        old_pid, port = w.pid, w.port
        os.kill(old_pid, signal.SIGKILL)
        with trio.fail_after(20):
            await w.wait_state(S.BACKOFF)
            await w.wait_state(S.RUNNING)
        assert w.pid != old_pid and w.restarts == 1 and w.port == port
        assert "signal 9" in w.last_reason
        r = await http.get(f"{sup.url}/openwx/die?client=a")  # crashes while answering
        assert r.status_code == 502 and r.json()["code"] == 10
        with trio.fail_after(20):
            await w.wait_state(S.BACKOFF)
            await w.wait_state(S.RUNNING)
        assert w.restarts == 2 and "status 3" in w.last_reason
        entry = (await http.get(f"{sup.url}/openwx/check_client?client=a")).json()["client"][0]
        assert entry["restarts"] == 2 and entry["pid"] == w.pid


async def test_a_worker_that_always_crashes_ends_failed(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path, mode="crash", accounts=("c",))) as sup:
        w = sup.arbiter.watchers["c"]
        with trio.fail_after(20):
            await w.wait_state(S.FAILED)
        assert w.restarts == 3  # 4 failures in the window with this policy
        entry = (await http.get(f"{sup.url}/openwx/check_client?client=c")).json()["client"][0]
        assert entry["supervisor_state"] == "failed" and entry["state"] == "stop"
        assert "exited with status 1" in entry["reason"]
        r = (await http.get(f"{sup.url}/openwx/echo?client=c"))
        assert r.status_code == 503 and r.json()["supervisor_state"] == "failed"
        # start_client tries again (and fails again)
        r = (await http.get(f"{sup.url}/openwx/start_client?client=c")).json()
        assert r["code"] == 0 and r["status"] == "success"
        with trio.fail_after(20):
            await w.wait_state(S.FAILED)
        assert w.restarts == 6


async def test_stop_client_and_exit_zero_are_not_restarted(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path, accounts=("a", "b"))) as sup:
        await running(sup, "a", "b")
        pid = sup.arbiter.watchers["a"].pid
        r = (await http.post(f"{sup.url}/openwx/stop_client", json={"client": "a"})).json()
        assert r["code"] == 0 and r["status"] == "success" and r["client"] == "a"
        assert not pid_alive(pid)
        assert "a" not in sup.arbiter.watchers
        r = (await http.get(f"{sup.url}/openwx/stop_client?client=a")).json()
        assert r == {"code": 1, "status": "client not exists"}
        b = sup.arbiter.watchers["b"]
        await http.get(f"{sup.url}/openwx/exit0?client=b")
        with trio.fail_after(20):
            await b.wait_state(S.EXITED)
        await trio.sleep(0.5)  # several check intervals: still not restarted
        assert b.state is S.EXITED and b.restarts == 0


async def test_start_client_whitelists_and_validates_options(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path)) as sup:
        url = f"{sup.url}/openwx/start_client"
        r = (await http.get(url)).json()
        assert r == {"code": 1, "status": "client not found"}
        r = (await http.get(url, params={"client": "n", "rm_rf": "/", "port": "1"})).json()
        assert r["code"] == 6 and "port" in r["status"] and "rm_rf" in r["status"]
        assert "post_api" in r["allowed"]
        r = (await http.get(url, params={"client": "n", "send_interval": "soon"})).json()
        assert r["code"] == 7 and "send_interval" in r["status"]
        r = (await http.get(url, params={"client": "bad name!"})).json()
        assert r["code"] == 7
        assert sup.arbiter.watchers == {}
        r = (await http.post(url, json={"client": "n", "post_api": "http://127.0.0.1:9/x?k=1",
                                        "send_interval": 0.5})).json()
        assert r["code"] == 0 and r["status"] == "success"
        assert r["pid"] and r["port"] and r["post_api"] == "http://127.0.0.1:9/x?k=1"
        await running(sup, "n")
        r = (await http.get(url, params={"client": "n"})).json()
        assert r["code"] == 0 and r["status"] == "client already exists"
        argv = sup.arbiter.worker_state("n")["argv"]
        assert "--post-api=http://127.0.0.1:9/x?k=1&client=n" in argv
        assert "--send-interval=0.5" in argv


async def test_get_qrcode(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path, accounts=("a",))) as sup:
        await running(sup, "a")
        r = await http.get(f"{sup.url}/openwx/get_qrcode?client=a")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpg"
        assert r.content.startswith(b"\xff\xd8")
        os.unlink(os.path.join(config_tmp(sup), "mojo_weixin_qrcode_a.jpg"))
        r = await http.get(f"{sup.url}/openwx/get_qrcode?client=a")
        assert r.status_code == 404 and r.json()["code"] == 9
        r = await http.get(f"{sup.url}/openwx/get_qrcode")
        assert r.json() == {"code": 1, "status": "client not found"}


def config_tmp(sup):
    return sup.arbiter.config.effective_tmpdir


async def test_clients_come_back_after_a_supervisor_restart(tmp_path, http):
    config = fast_config(tmp_path, accounts=("a",))
    async with open_supervisor(config) as sup:
        await running(sup, "a")
        r = (await http.get(f"{sup.url}/openwx/start_client",
                            params={"client": "b", "send_interval": "1"})).json()
        assert r["code"] == 0
        await running(sup, "b")
        pids = [w.pid for w in sup.arbiter.watchers.values()]
        port_b = sup.arbiter.watchers["b"].port
    assert not any(pid_alive(p) for p in pids)  # the supervisor stopped them
    saved = json.loads(await trio.Path(config.clients_path).read_text())
    assert set(saved["clients"]) == {"a", "b"}
    async with open_supervisor(fast_config(tmp_path)) as sup:  # no --accounts this time
        await running(sup, "a", "b")
        b = sup.arbiter.watchers["b"]
        assert b.options == {"send_interval": "1"} and b.port == port_b


async def test_a_worker_left_running_is_taken_over(tmp_path):
    """A worker left by a supervisor that was SIGKILLed is stopped and replaced, not duplicated."""
    import sys

    from openwx_supervisor.ports import PortAllocator
    from openwx_supervisor.store import ClientRecord, save_clients

    from .helpers import STANDIN, base_port

    config = fast_config(tmp_path)
    port = PortAllocator(base_port() + 500).reserve("old")
    old = await trio.lowlevel.open_process(
        [sys.executable, STANDIN, "run", "--account", "a", "--port", str(port),
         f"--tmpdir={config.effective_tmpdir}"])
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            with trio.fail_after(20):
                while True:  # wait for the old worker to be up
                    try:
                        await http.get(f"http://127.0.0.1:{port}/openwx/get_client_info")
                        break
                    except httpx.TransportError:
                        await trio.sleep(0.05)
        save_clients(config.clients_path, {"a": ClientRecord(pid=old.pid, port=port)})
        async with open_supervisor(config) as sup:
            await running(sup, "a")
            assert sup.arbiter.watchers["a"].pid != old.pid
            assert old.poll() is not None  # it was stopped (SIGTERM: the stand-in exits 0)
    finally:
        if old.poll() is None:
            old.kill()
        await old.wait()


async def test_one_supervisor_per_tmpdir(tmp_path):
    config = fast_config(tmp_path)
    async with open_supervisor(config):
        assert await trio.Path(config.pid_path).read_text() == str(os.getpid())
        with pytest.raises(AlreadyRunning, match=str(os.getpid())):
            async with open_supervisor(config):
                pass
    assert not await trio.Path(config.pid_path).exists()
    async with open_supervisor(config):  # the lock went with the first one
        pass


async def test_max_clients_is_a_limit_not_a_limit_plus_one(tmp_path, http):
    """Regression for reference H.8: the original allowed max_clients + 1."""
    async with open_supervisor(fast_config(tmp_path, max_clients=2, accounts=("a", "b"))) as sup:
        r = (await http.get(f"{sup.url}/openwx/start_client", params={"client": "c"})).json()
        assert r == {"code": 5, "status": "max clients exceed"}
        assert set(sup.arbiter.watchers) == {"a", "b"}


async def test_an_access_token_guards_every_endpoint(tmp_path, http):
    async with open_supervisor(fast_config(tmp_path, access_token="s3cret", accounts=("a",))) as sup:
        await running(sup, "a")
        r = await http.get(f"{sup.url}/openwx/check_client")
        assert r.status_code == 403 and r.text == "auth failure"
        r = await http.get(f"{sup.url}/openwx/echo?client=a")
        assert r.status_code == 403
        r = await http.get(f"{sup.url}/openwx/check_client",
                           headers={"Authorization": "Bearer s3cret"})
        assert r.json()["code"] == 0
        r = await http.get(f"{sup.url}/openwx/echo?client=a&access_token=s3cret")
        assert r.json()["account"] == "a"
        # the token that authenticated start_client is not handed to the worker
        r = (await http.get(f"{sup.url}/openwx/start_client",
                            params={"client": "b", "access_token": "s3cret"})).json()
        assert r["code"] == 0 and "access_token" not in sup.arbiter.watchers["b"].options


async def test_management_endpoints_accept_form_posts(tmp_path, http):
    """Regression for reference F.2/H.8: a POST stop_client used to reach the worker."""
    async with open_supervisor(fast_config(tmp_path)) as sup:
        r = (await http.post(f"{sup.url}/openwx/start_client",
                             data={"client": "f", "qrcode_count_max": "3"})).json()
        assert r["code"] == 0 and r["qrcode_count_max"] == "3"
        await running(sup, "f")
        r = (await http.post(f"{sup.url}/openwx/stop_client", data={"client": "f"})).json()
        assert r["code"] == 0 and r["supervisor_state"] == "stopped"
        assert sup.arbiter.watchers == {}


async def test_a_worker_that_stops_answering_is_killed_and_restarted(tmp_path, http):
    """A hung worker (SIGSTOP: alive, its port accepts, nothing answers) is replaced.

    It cannot act on SIGTERM while stopped, so this also proves the SIGKILL after
    graceful_timeout reaches it.
    """
    async with open_supervisor(fast_config(tmp_path, accounts=("a",), graceful_timeout=0.3)) as sup:
        await running(sup, "a")
        w = sup.arbiter.watchers["a"]
        hung = w.pid
        os.kill(hung, signal.SIGSTOP)
        try:
            with trio.fail_after(20):
                await w.wait_state(S.BACKOFF)
                assert "health probes failed" in w.last_reason
                await w.wait_state(S.RUNNING)
        finally:
            if pid_alive(hung):
                os.kill(hung, signal.SIGKILL)
        assert not pid_alive(hung) and w.pid != hung and w.restarts == 1
        r = await http.get(f"{sup.url}/openwx/echo?client=a")
        assert r.json()["account"] == "a"


async def test_start_client_revives_a_failed_client(tmp_path, http):
    """Flapping -> failed (no more restarts); once the cause is gone, start_client brings it back."""
    broken = tmp_path / "broken"
    broken.write_text("")
    config = fast_config(tmp_path, mode=f"crash-while:{broken}", accounts=("c",))
    async with open_supervisor(config) as sup:
        w = sup.arbiter.watchers["c"]
        with trio.fail_after(20):
            await w.wait_state(S.FAILED)
        restarts = w.restarts
        await trio.sleep(0.5)  # several check intervals and backoff periods: left alone
        assert w.state is S.FAILED and w.restarts == restarts and w.pid is None
        broken.unlink()
        await trio.sleep(0.5)  # the cause is gone, but nothing restarts it by itself
        assert w.state is S.FAILED
        r = (await http.get(f"{sup.url}/openwx/start_client?client=c")).json()
        assert r["code"] == 0 and r["status"] == "success"
        await running(sup, "c")
        entry = (await http.get(f"{sup.url}/openwx/check_client?client=c")).json()["client"][0]
        assert entry["supervisor_state"] == "running" and entry["pid"] == w.pid
        assert (await http.get(f"{sup.url}/openwx/echo?client=c")).json()["account"] == "c"


async def test_a_port_in_use_is_skipped_when_spawning(tmp_path, http):
    """Someone else listens on backend_start_port: the worker gets the next free port."""
    import socket

    from .helpers import base_port

    config = fast_config(tmp_path, backend_start_port=base_port() + 600)  # a range of its own
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past any TIME_WAIT
        squatter.bind(("127.0.0.1", config.backend_start_port))
        squatter.listen()
        async with open_supervisor(config) as sup:
            r = (await http.get(f"{sup.url}/openwx/start_client?client=a")).json()
            assert r["code"] == 0 and r["port"] != config.backend_start_port
            await running(sup, "a")
            assert (await http.get(f"{sup.url}/openwx/echo?client=a")).json()["account"] == "a"
