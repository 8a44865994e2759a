"""``openwx-supervisor`` start / status / stop as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import trio
from click.testing import CliRunner

from openwx_supervisor.cli import format_table, main
from openwx_supervisor.watcher import pid_alive

from .helpers import STANDIN, base_port


def test_status_table():
    table = format_table([
        {"client": "b", "supervisor_state": "failed", "state": "stop", "pid": None, "port": 3001,
         "uptime": None, "restarts": 5},
        {"client": "a", "supervisor_state": "running", "state": "running", "pid": 42,
         "port": 3000, "uptime": 3725, "restarts": 0},
    ])
    lines = table.splitlines()
    assert lines[0].split() == ["ACCOUNT", "STATE", "WORKER", "PID", "PORT", "UPTIME", "RESTARTS"]
    assert lines[1].split() == ["a", "running", "running", "42", "3000", "1h02m", "0"]
    assert lines[2].split() == ["b", "failed", "stop", "-", "3001", "-", "5"]


def test_bad_settings_exit_2_with_one_line():
    result = CliRunner().invoke(main, ["start", "--listen", "0.0.0.0:2000"])
    assert result.exit_code == 2
    assert "access_token is required" in result.output
    result = CliRunner().invoke(main, ["start", "--listen", "nowhere"])
    assert result.exit_code == 2 and "host:port" in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_start_status_stop(tmp_path):
    port = _free_port()
    tmpdir = tmp_path / "tmp"
    config = tmp_path / "sup.toml"
    config.write_text(f"worker_command = {json.dumps([sys.executable, STANDIN])}\n"
                      f'data_root = "{tmp_path / "data"}"\ncheck_interval = 0.2\n')
    argv = [sys.executable, "-c", "from openwx_supervisor.cli import main; main()", "start",
            "--accounts", "a,b", "--listen", f"127.0.0.1:{port}", "--tmpdir", str(tmpdir),
            "--backend-start-port", str(base_port() + 1000), "--config", str(config)]
    proc = await trio.lowlevel.open_process(argv, stderr=subprocess.DEVNULL)
    runner = CliRunner()
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            with trio.fail_after(30):
                while True:
                    try:
                        r = await http.get(f"http://127.0.0.1:{port}/healthz")
                        if r.json()["states"].get("running") == 2:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.1)
        result = await trio.to_thread.run_sync(
            runner.invoke, main, ["status", "--listen", f"127.0.0.1:{port}"])
        assert result.exit_code == 0, result.output
        rows = [line.split() for line in result.output.splitlines()[1:]]
        assert [(r[0], r[1]) for r in rows] == [("a", "running"), ("b", "running")]
        result = await trio.to_thread.run_sync(
            runner.invoke, main, ["status", "--json", "--listen", f"127.0.0.1:{port}"])
        pids = [e["pid"] for e in json.loads(result.output)["client"]]
        assert len(pids) == 2
        result = await trio.to_thread.run_sync(runner.invoke, main, ["stop", "--tmpdir", str(tmpdir)])
        assert result.exit_code == 0, result.output
        with trio.fail_after(30):
            assert await proc.wait() == 0
        assert not any(pid_alive(p) for p in pids)
        result = await trio.to_thread.run_sync(
            runner.invoke, main, ["status", "--listen", f"127.0.0.1:{port}"])
        assert result.exit_code == 1 and "no supervisor answers" in result.output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_start_with_the_embedded_simulator(tmp_path):
    """``--sim``: the workers log in to an in-process wechat_sim by themselves."""
    port = _free_port()
    argv = [sys.executable, "-c", "from openwx_supervisor.cli import main; main()", "start",
            "--sim", "--accounts", "a", "--listen", f"127.0.0.1:{port}",
            "--tmpdir", str(tmp_path / "tmp"), "--backend-start-port", str(base_port() + 1500),
            "--config", str(_data_root_config(tmp_path))]
    proc = await trio.lowlevel.open_process(argv, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            with trio.fail_after(60):
                while True:
                    try:
                        r = await http.get(f"http://127.0.0.1:{port}/openwx/check_client")
                        if r.json()["client"][0]["state"] == "running":
                            break
                    except (httpx.TransportError, IndexError, KeyError):
                        pass
                    await trio.sleep(0.1)
            user = (await http.get(f"http://127.0.0.1:{port}/openwx/get_user_info?client=a")).json()
            assert user["id"].startswith("@")
        proc.send_signal(15)
        with trio.fail_after(30):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _data_root_config(tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text(f'data_root = "{tmp_path / "data"}"\ncheck_interval = 0.5\n')
    return path
