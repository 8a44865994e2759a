"""Benchmark of the supervisor on the simulator: proxy overhead, memory, start-up of many accounts.

    .venv/bin/python scripts/bench_supervisor.py [--workers 20] [--accounts 50] [--requests 300]

Runs the real programs: ``wechat-sim serve`` (auto-confirm) in one process,
``openwx-supervisor start --wechat-base ...`` in another, which spawns one
``openwx-worker`` per account. Prints ``figure: value (target ...)`` lines:

* proxy overhead: median latency of get_user_info through the supervisor divided by
  the median latency straight to the worker, in alternating blocks (target <= 1.5);
  and the supervisor's CPU time per proxied request (load-proof);
* supervisor RSS with N workers running (target <= 40 MB; workers not counted);
* time for M accounts to reach ``running`` (QR login on the simulator included),
  from the supervisor's start (target <= 30 s on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def simulator(accounts: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [str(BIN / "wechat-sim"), "serve", "--port", "0", "--auto-confirm", "--auto-delay", "0.2",
         "--accounts", str(accounts), "--friends", "20", "--groups", "3", "--members", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def supervisor(accounts: int, base: str, workdir: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    config = workdir / "supervisor.toml"
    config.write_text(f'data_root = "{workdir / "data"}"\ncheck_interval = 2.0\n'
                      "[worker]\nqrcode_terminal = false\nsend_interval = 0.0\nlog_level = \"warning\"\n")
    names = ",".join(f"acct{i:03d}" for i in range(accounts))
    proc = subprocess.Popen(
        [str(BIN / "openwx-supervisor"), "start", "--accounts", names,
         "--listen", f"127.0.0.1:{port}", "--backend-start-port", str(free_port() // 2 + 20000),
         "--tmpdir", str(workdir / "tmp"), "--wechat-base", base, "--config", str(config),
         "--log-level", "warning"],
        stderr=open(workdir / "supervisor.log", "wb"))  # noqa: SIM115
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_all_running(http: httpx.Client, url: str, count: int, timeout: float = 300) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            entries = http.get(f"{url}/openwx/check_client").json()["client"]
            if len(entries) == count and all(e.get("state") == "running" for e in entries):
                return entries
        except (httpx.TransportError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"not all {count} accounts running after {timeout} s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (a noise-proof cost measure)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_latencies(http: httpx.Client, urls: list[str], n: int, block: int = 50) -> list[float]:
    """Median latency of each URL over n requests, measured in alternating blocks of
    ``block``: a load drift on the shared machine then hits every URL alike, while
    each request still follows one to the same URL (request by request interleaving
    would bill the supervisor's after-reply work to the direct requests)."""
    for _ in range(20):  # warm up connections
        for url in urls:
            http.get(url)
    samples: list[list[float]] = [[] for _ in urls]
    for start in range(0, n, block):
        for url, bucket in zip(urls, samples, strict=True):
            for _ in range(min(block, n - start)):
                t = time.perf_counter()
                r = http.get(url)
                bucket.append(time.perf_counter() - t)
                r.raise_for_status()
    return [statistics.median(bucket) for bucket in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=20, help="accounts for RSS and proxy figures")
    parser.add_argument("--accounts", type=int, default=50, help="accounts for the start-up figure")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sup-") as tmp, httpx.Client(
            timeout=60, trust_env=False) as http:
        workdir = Path(tmp)
        # 1 and 2: proxy overhead and RSS with --workers accounts
        (workdir / "a").mkdir()
        with simulator(args.workers) as base, supervisor(args.workers, base, workdir / "a") as (
                proc, url):
            entries = wait_all_running(http, url, args.workers)
            first = sorted(entries, key=lambda e: e["client"])[0]
            cpu0 = cpu_seconds(proc.pid)
            direct, proxied = median_latencies(http, [
                f"http://127.0.0.1:{first['port']}/openwx/get_user_info",
                f"{url}/openwx/get_user_info?client={first['client']}"], args.requests)
            cpu_per_request = (cpu_seconds(proc.pid) - cpu0) / (args.requests + 20)
            print(f"proxy latency direct: {direct * 1000:.2f} ms (median of {args.requests})")
            print(f"proxy latency through supervisor: {proxied * 1000:.2f} ms")
            print(f"proxy overhead ratio: {proxied / direct:.2f} (target <= 1.5)")
            print(f"supervisor CPU per proxied request: {cpu_per_request * 1000:.2f} ms "
                  "(includes its health probes; machine load does not inflate it)")
            print(f"supervisor RSS with {args.workers} workers: {rss_mb(proc.pid):.1f} MB "
                  "(target <= 40 MB)")
        # 3: time for --accounts accounts to reach running
        if args.accounts <= 0:
            return
        (workdir / "b").mkdir()
        with simulator(args.accounts) as base:
            t0 = time.monotonic()
            with supervisor(args.accounts, base, workdir / "b") as (proc, url):
                wait_all_running(http, url, args.accounts)
                elapsed = time.monotonic() - t0
                print(f"time for {args.accounts} accounts to reach running: {elapsed:.1f} s "
                      f"(target <= 30 s on {os.cpu_count()} cores)")
                print(f"supervisor RSS with {args.accounts} workers: {rss_mb(proc.pid):.1f} MB")


if __name__ == "__main__":
    main()
