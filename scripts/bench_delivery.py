"""Benchmark: post_api delivery throughput and publish -> webhook latency.

    .venv/bin/python scripts/bench_delivery.py [--count 5000] [--latency-count 1000]

Runs the real EventLog (SQLite, WAL, in a temp folder) and the real Delivery against a
real HTTP/1.1 webhook on loopback (the one the tests use, tests/worker/events_webhook.py)
running in a child process, as a user's webhook would. The child stamps each request's
arrival with CLOCK_MONOTONIC (shared by all processes) and hands the stamps over at the
end (GET /stamps), so the measurement itself costs the delivering process nothing.

* context: the rate of a bare httpx POST loop to the same webhook, i.e. the ceiling of
  one ordered connection on this machine, which delivery (one POST at a time, to keep
  the order) cannot exceed;
* throughput: COUNT items are published, then delivery starts from the beginning; items
  accepted per second until the last one is;
* latency: one item at a time, publish -> the webhook has the complete request, p50 and
  p99 over LATENCY_COUNT items.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec
import trio

from openwx_worker import models
from openwx_worker.delivery import DeliveryOptions
from openwx_worker.events import EventLog
from openwx_worker.outbox import Delivery, make_http_client

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time, trio
sys.path.insert(0, sys.argv[1])
from events_webhook import open_webhook

async def main():
    stamps = []
    async with open_webhook() as hook:
        def answer(got):
            if got.method == "GET":
                return 200, "application/json", json.dumps(stamps).encode()
            stamps.append((int(got.headers.get("x-openwx-event-id", 0)), time.monotonic()))
            return 200, "application/json", b"{}"
        hook.answer = answer
        print(hook.port, flush=True)
        await trio.sleep_forever()

trio.run(main)
"""


def message(i: int) -> models.ReceiveMessage:
    return models.ReceiveMessage(
        id=f"{10_000_000 + i}", msg_class="recv", type="group_message", time=1700000000,
        content=f"benchmark message {i} " + "x" * 40, sender="灰灰", sender_id="@member",
        receiver="小灰", receiver_id="@me", group="PERL学习交流", group_id="@@group",
        group_name="PERL学习交流", sender_uid="", receiver_uid="", group_uid="",
    )


async def start_webhook() -> tuple[trio.Process, int]:
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", _CHILD, str(ROOT / "tests" / "worker")], stdout=subprocess.PIPE)
    line = b""
    while not line.endswith(b"\n"):
        line += await proc.stdout.receive_some(64)
    return proc, int(line)


async def run(args: argparse.Namespace) -> None:
    proc, port = await start_webhook()
    url = f"http://127.0.0.1:{port}/post_api"
    try:
        async with trio.open_nursery() as nursery:
            with tempfile.TemporaryDirectory() as tmp, \
                    EventLog.open(Path(tmp) / "bench.sqlite3") as log:
                options = DeliveryOptions(post_api=url)
                async with make_http_client(options) as http:
                    await measure(args, nursery, log, options, http, url)
            nursery.cancel_scope.cancel()
    finally:
        proc.kill()


async def measure(args, nursery, log: EventLog, options, http: httpx.AsyncClient, url) -> None:
    body = models.encode(message(0))
    t0 = time.perf_counter()
    for _ in range(args.count):
        await http.post(url, content=body, headers={"Content-Type": "application/json"})
    ceiling = args.count / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    for i in range(args.count):
        log.publish(message(i))
    publish_rate = args.count / (time.perf_counter() - t0)
    delivery = Delivery(options, log, http=http)
    start = time.perf_counter()
    await nursery.start(delivery.run)
    await delivery.wait_delivered(log.last_event_id)
    throughput = args.count / (time.perf_counter() - start)

    published: dict[int, float] = {}
    for i in range(args.latency_count):
        at = time.monotonic()
        event_id = log.publish(message(args.count + i))
        published[event_id] = at
        await delivery.wait_delivered(event_id)
        await trio.sleep(0.001)  # the log goes idle between messages, as in real life
    stamps = msgspec.json.decode((await http.get(url)).content)
    latencies = [(t - published[e]) * 1000 for e, t in stamps if e in published]
    q = statistics.quantiles(latencies, n=100)

    print(f"publish (one SQLite commit per item): {publish_rate:,.0f} items/s")
    print(f"httpx POST loop, one connection, no delivery (context): {ceiling:,.0f} requests/s")
    print(f"delivery throughput: {throughput:,.0f} events/s (target >= 2,000)")
    print(f"publish -> webhook latency p50: {q[49]:.2f} ms (target <= 5)")
    print(f"publish -> webhook latency p99: {q[98]:.2f} ms (target <= 25)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--latency-count", type=int, default=1000)
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
