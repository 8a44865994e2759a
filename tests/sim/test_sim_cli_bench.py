"""`wechat-sim serve` as a real subprocess (the installed console script, port 0), the world it
serves (generated, default) with `--auto-confirm`, and the output format of
scripts/bench_sim.py. Wall time here is only the child's start-up; nothing is timed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec
import trio
from sim_webclient import WebClient, redirect_of

from wechat_sim import worldgen

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def wechat_sim_serve(*args: str) -> AsyncIterator[str]:
    """Run `wechat-sim serve --port 0 ARGS`; yield the base URL its first stdout line names."""
    cmd = [str(BIN / "wechat-sim"), "serve", "--host", "127.0.0.1", "--port", "0", *args]
    proc = await trio.lowlevel.open_process(cmd, stdout=subprocess.PIPE, env={**os.environ})
    try:
        line = b""
        with trio.fail_after(20):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(1)
                assert chunk, "wechat-sim serve exited before printing its base URL"
                line += chunk
        yield line.decode().strip()
    finally:
        proc.send_signal(signal.SIGINT)
        with trio.move_on_after(5):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.stdout.aclose()


async def test_console_script_serves_a_generated_world_and_auto_confirms():
    flags = ["--friends", "5", "--groups", "2", "--members", "4", "--seed", "3"]
    async with (
        wechat_sim_serve(*flags, "--auto-confirm", "--auto-delay", "0.01") as base,
        httpx.AsyncClient(timeout=30) as http,
    ):
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", base)
        assert m and int(m.group(1)) > 0  # the port actually bound, not the 0 asked for
        expected = worldgen.build(
            worldgen.generate_spec(friends=5, groups=2, members=4, seed=3)
        )  # deterministic for a seed: the same world as the generator in-process
        accounts = (await http.get(base + "/sim/accounts")).json()
        assert [a["wxid"] for a in accounts] == list(expected.accounts)
        first = accounts[0]["wxid"]
        detail = (await http.get(f"{base}/sim/accounts/{first}")).json()
        assert sorted(f["wxid"] for f in detail["friends"]) == sorted(
            expected.accounts[first].friends
        )
        assert len(detail["groups"]) == 2
        assert all(len(g["members"]) == 4 for g in detail["groups"])
        # --auto-confirm: a QR login completes with no control call, as the first account
        web = WebClient(http, base)
        uuid = await web.jslogin()
        while (answer := await web.poll(uuid))[0] != 200:
            assert answer[0] == 201, answer
        creds = web.take_xml(await web.exchange(redirect_of(answer[1])))
        assert creds.uin == str(expected.accounts[first].uin)


async def test_cli_serve_prints_its_base_url(tmp_path):
    path = tmp_path / "world.json"
    spec = worldgen.default_spec()
    spec.accounts[0].nickname = "FromFile"
    path.write_bytes(msgspec.json.encode(spec))
    async with (
        wechat_sim_serve("--world", str(path), "--auto-confirm") as base,
        httpx.AsyncClient() as http,
    ):
        assert base.startswith("http://127.0.0.1:")
        accounts = (await http.get(base + "/sim/accounts")).json()
        assert accounts[0]["nickname"] == "FromFile"


async def test_console_script_serves_the_default_world_when_given_nothing():
    async with wechat_sim_serve() as base, httpx.AsyncClient(timeout=30) as http:
        accounts = (await http.get(base + "/sim/accounts")).json()
        assert [a["nickname"] for a in accounts] == ["Alice", "Bob"]
        config = (await http.get(base + "/sim/config")).json()
        assert config["auto_confirm"] is False


def test_bench_sim_prints_figure_lines():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_sim.py"), "--rounds", "3"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert lines and all(
        re.fullmatch(r"[\w.]+: \d+(\.\d+)? \(target [^)]*\)", line) for line in lines
    ), lines
    figures = {line.split(":", 1)[0]: line for line in lines}
    for name in (
        "sim.load_world_5000x300x500_s",
        "sim.load_world_file_5000x300x500_s",
        "sim.inject_to_synccheck_p50_ms",
    ):
        assert figures[name].endswith("(target < 5)"), figures
