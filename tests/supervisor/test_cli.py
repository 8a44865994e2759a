"""``openwx-supervisor`` start / status / stop as a user runs them."""

from __future__ import annotations

import json
import re
import signal
import sys

import httpx
import trio
from click.testing import CliRunner

from openwx_supervisor.cli import format_table, main
from openwx_supervisor.watcher import pid_alive

from .helpers import STANDIN, base_port, free_port, open_cli, poll_until


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


def _standin_config(tmp_path):
    path = tmp_path / "sup.toml"
    path.write_text(f"worker_command = {json.dumps([sys.executable, STANDIN])}\n"
                    f'data_root = "{tmp_path / "data"}"\ncheck_interval = 0.2\n')
    return path


async def _get_json(url: str) -> dict:
    async with httpx.AsyncClient(trust_env=False) as http:
        return (await http.get(url)).json()


async def test_start_status_stop(tmp_path):
    port = free_port()
    tmpdir = tmp_path / "tmp"
    runner = CliRunner()
    async with open_cli("start", "--accounts", "a,b", "--listen", f"127.0.0.1:{port}",
                        "--tmpdir", str(tmpdir), "--backend-start-port", str(base_port() + 1000),
                        "--post-api", "http://127.0.0.1:9/hook?k=1",
                        "--config", str(_standin_config(tmp_path))) as proc:
        async def both_running():
            health = await _get_json(f"http://127.0.0.1:{port}/healthz")
            return health["states"].get("running") == 2

        with trio.fail_after(30):
            await poll_until(both_running)
        result = await trio.to_thread.run_sync(
            runner.invoke, main, ["status", "--json", "--listen", f"127.0.0.1:{port}"])
        assert result.exit_code == 0, result.output
        entries = sorted(json.loads(result.output)["client"], key=lambda e: e["client"])
        pids = [e["pid"] for e in entries]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        for e in entries:  # the stand-in reports its argv: --post-api reached it, with client=
            assert f"--post-api=http://127.0.0.1:9/hook?k=1&client={e['client']}" in e["argv"]
        result = await trio.to_thread.run_sync(
            runner.invoke, main, ["status", "--listen", f"127.0.0.1:{port}"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].split() == ["ACCOUNT", "STATE", "WORKER", "PID", "PORT", "UPTIME", "RESTARTS"]
        rows = [line.split() for line in lines[1:]]
        assert [r[:5] + r[6:] for r in rows] == [
            [e["client"], "running", "running", str(e["pid"]), str(e["port"]), "0"] for e in entries]
        assert all(re.fullmatch(r"\d+m\d\ds", r[5]) for r in rows)  # uptime, e.g. 0m01s
        result = await trio.to_thread.run_sync(runner.invoke, main, ["stop", "--tmpdir", str(tmpdir)])
        assert result.exit_code == 0, result.output
        with trio.fail_after(30):
            assert await proc.wait() == 0
        assert not any(pid_alive(p) for p in pids)
        result = await trio.to_thread.run_sync(
            runner.invoke, main, ["status", "--listen", f"127.0.0.1:{port}"])
        assert result.exit_code == 1 and "no supervisor answers" in result.output


async def test_start_with_the_embedded_simulator(tmp_path):
    """``--sim``: the workers log in to an in-process wechat_sim by themselves."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with open_cli("start", "--sim", "--accounts", "a", "--listen", f"127.0.0.1:{port}",
                        "--tmpdir", str(tmp_path / "tmp"), "--backend-start-port",
                        str(base_port() + 1500), "--config", str(_data_root_config(tmp_path))) as proc:
        async def logged_in():
            return (await _get_json(f"{url}/openwx/check_client"))["client"][0]["state"] == "running"

        with trio.fail_after(60):
            await poll_until(logged_in)
        user = await _get_json(f"{url}/openwx/get_user_info?client=a")
        assert user["id"].startswith("@")
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await proc.wait() == 0


def _data_root_config(tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text(f'data_root = "{tmp_path / "data"}"\ncheck_interval = 0.5\n')
    return path


async def test_sigint_stops_the_supervisor_and_its_workers(tmp_path):
    """Ctrl-C in the foreground: the same graceful stop as SIGTERM, exit status 0."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with open_cli("start", "--accounts", "a", "--listen", f"127.0.0.1:{port}",
                        "--tmpdir", str(tmp_path / "tmp"), "--backend-start-port",
                        str(base_port() + 1700), "--config", str(_standin_config(tmp_path))) as proc:
        async def running():
            entry = (await _get_json(f"{url}/openwx/check_client"))["client"][0]
            return entry["supervisor_state"] == "running"

        with trio.fail_after(30):
            await poll_until(running)
        pid = (await _get_json(f"{url}/openwx/check_client"))["client"][0]["pid"]
        if sys.platform.startswith("linux"):  # the supervisor's process title
            assert (await trio.Path(f"/proc/{proc.pid}/comm").read_text()).strip() == "openwx-sup"
        proc.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            assert await proc.wait() == 0
        assert not pid_alive(pid)
