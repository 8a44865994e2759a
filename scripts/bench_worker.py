"""Benchmark the worker's web WeChat client against the simulator (issue 4).

Figures:

* confirm → running on a 5,000-friend / 300-group × 500-member account: from the phone's
  confirm (control API) to state ``running`` (ticket exchange, webwxinit, contact paging,
  300 groups fetched in batches of 50), target ≤ 3 s;
* injected message → event latency, p50 and p99: from the control API call that delivers
  a message to the account, to the message arriving on an EventLog subscriber (synccheck
  wake-up, webwxsync, conversion, publish), targets ≤ 5 ms / ≤ 25 ms;
* worker RSS when idle, for a small account (500 friends, 30 groups) and for the large one,
  measured on a real ``openwx-worker run`` process; target ≤ 50 MB for the small one;
* SIGTERM → process exit of that worker (graceful stop), target ≤ 3 s.

The simulator runs as its own process (``wechat-sim serve``) so it does not share the
worker's event loop.  Run: ``.venv/bin/python scripts/bench_worker.py [--rounds 200]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import trio

BIN = Path(sys.executable).parent
LARGE = {"friends": 5000, "groups": 300, "members": 500}
SMALL = {"friends": 500, "groups": 30, "members": 50}


@contextmanager
def sim_process(size: dict, auto_confirm: bool):
    """A ``wechat-sim serve`` process on a free port; yields its base URL."""
    args = [str(BIN / "wechat-sim"), "serve", "--host", "127.0.0.1", "--port", "0",
            "--accounts", "1", "--seed", "1", *(f"--{k}={v}" for k, v in size.items())]
    if auto_confirm:
        args += ["--auto-confirm", "--auto-delay", "0.05"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()  # the base URL, once the world is built
        if not line.startswith("http"):
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield line
    finally:
        proc.terminate()
        proc.wait(10)


def config_for(base: str, tmp: str, **extra):
    from openwx_worker.config import WorkerConfig

    return WorkerConfig(account="bench", port=0, tmpdir=f"{tmp}/tmp", data_dir=f"{tmp}/data",
                        wechat_base=base, send_interval=0.0, qrcode_terminal=False,
                        log_level="warn", **extra)


async def timing(base: str, rounds: int) -> tuple[float, list[float]]:
    """(confirm → running seconds, message → event latencies in ms), worker in-process."""
    from openwx_worker.client import open_client
    from openwx_worker.events import open_event_log
    from openwx_worker.state import open_state

    with tempfile.TemporaryDirectory() as tmp:
        config = config_for(base, tmp)
        async with httpx.AsyncClient(base_url=base, timeout=60) as sim:
            account = (await sim.get("/sim/accounts")).json()[0]["wxid"]
            friends = (await sim.get(f"/sim/accounts/{account}")).json()["friends"]
            friend = next(f["wxid"] for f in friends if f["wxid"].startswith("wxid_"))
            with open_state(config) as machine, open_event_log(config) as events:
                async with open_client(config, machine, events) as client:
                    uuid = await _pending_login(sim)
                    await sim.post(f"/sim/logins/{uuid}/scan", json={"account": account})
                    started = time.perf_counter()
                    await sim.post(f"/sim/logins/{uuid}/confirm")
                    await client.wait_running()
                    confirm_to_running = time.perf_counter() - started
                    await trio.sleep(1)  # let the first syncs (status notify list) settle
                    latencies = []
                    with events.subscribe(max_buffer=1000) as rx:
                        for i in range(rounds):
                            text = f"bench message {i}"
                            started = time.perf_counter()
                            await sim.post(f"/sim/accounts/{account}/messages",
                                           json={"from": friend, "content": text})
                            while True:
                                item = await rx.receive()
                                if getattr(item, "content", None) == text:
                                    break
                            latencies.append((time.perf_counter() - started) * 1000)
                    client.request_stop()
    return confirm_to_running, latencies


async def _pending_login(sim: httpx.AsyncClient) -> str:
    while True:
        waiting = [x for x in (await sim.get("/sim/logins")).json()
                   if x["state"] == "waiting" and not x.get("push")]
        if waiting:
            return waiting[-1]["uuid"]
        await trio.sleep(0.02)


def idle_rss_mb(base: str) -> tuple[float, float]:
    """(VmRSS in MB of an ``openwx-worker run`` process logged in and idle for 3 s,
    seconds from SIGTERM to the process's exit)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(BIN / "openwx-worker"), "run", "--account", "bench", "--port", "0",
                "--tmpdir", f"{tmp}/tmp", "--data-dir", f"{tmp}/data", "--wechat-base", base,
                "--no-qrcode-terminal", "--log-level", "warn"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            state = Path(tmp) / "tmp" / "mojo_weixin_state_bench.json"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if json.loads(state.read_bytes())["state"] == "running":
                        break
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError("worker did not reach running")
            time.sleep(3)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kb = int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            return kb / 1024, time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("OPENWX_LOG_LEVEL", "warn")

    with sim_process(LARGE, auto_confirm=False) as base:
        confirm_to_running, lat = trio.run(timing, base, args.rounds)
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"worker.confirm_to_running_5000x300x500_s: {confirm_to_running:.2f} (target <= 3)")
    print(f"worker.message_to_event_p50_ms: {p50:.2f} (target <= 5)")
    print(f"worker.message_to_event_p99_ms: {p99:.2f} (target <= 25)")

    with sim_process(SMALL, auto_confirm=True) as base:
        small, stop_s = idle_rss_mb(base)
    print(f"worker.idle_rss_small_500x30_mb: {small:.1f} (target <= 50)")
    print(f"worker.sigterm_to_exit_s: {stop_s:.2f} (target <= 3)")
    with sim_process(LARGE, auto_confirm=True) as base:
        large, _ = idle_rss_mb(base)
    print(f"worker.idle_rss_large_5000x300x500_mb: {large:.1f} (for context)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
