"""Benchmark: post_api delivery throughput and publish -> webhook latency.

    .venv/bin/python scripts/bench_delivery.py [--count 5000] [--latency-count 1000]

Runs the real EventLog (SQLite, WAL, in a temp folder) and the real Delivery against a
real HTTP/1.1 webhook on loopback (the one the tests use). The webhook runs in a child
process by default, as a user's webhook would; `--same-process` runs it in this trio
loop instead (then both sides share one core, a pessimistic figure).

* throughput: COUNT items are published, then delivery starts from the beginning; the
  figure is items accepted by the webhook per second until the last one arrives.
* latency: one item at a time, publish -> the webhook has the complete request, p50
  and p99 over LATENCY_COUNT items (the child stamps arrival with CLOCK_MONOTONIC,
  which the kernel shares between processes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "worker"))  # the tests' webhook server

from events_webhook import open_webhook  # noqa: E402

from openwx_worker import models  # noqa: E402
from openwx_worker.delivery import Delivery, DeliveryOptions, make_http_client  # noqa: E402
from openwx_worker.events import EventLog  # noqa: E402

_CHILD = r"""
import sys, time, trio
sys.path.insert(0, sys.argv[1])
from events_webhook import open_webhook

async def main():
    async with open_webhook() as hook:
        def answer(got):
            # arrival stamp on the shared monotonic clock, one line per request
            sys.stdout.write(f"{time.monotonic()}\n")
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


class ChildWebhook:
    """The webhook in a child process; arrival times come back on its stdout."""

    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.port = 0
        self.arrivals: list[float] = []
        self._buf = b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/post_api"

    async def read_port(self) -> None:
        while b"\n" not in self._buf:
            self._buf += await self.proc.stdout.receive_some(4096)
        line, self._buf = self._buf.split(b"\n", 1)
        self.port = int(line)

    async def wait_for(self, count: int) -> None:
        while len(self.arrivals) < count:
            data = await self.proc.stdout.receive_some(65536)
            if not data:
                raise RuntimeError("webhook child exited")
            self._buf += data
            *lines, self._buf = self._buf.split(b"\n")
            self.arrivals.extend(float(x) for x in lines if x)


async def run(args: argparse.Namespace) -> None:
    import subprocess

    async with trio.open_nursery() as nursery:
        if args.same_process:
            hook_cm = open_webhook()
            hook = await hook_cm.__aenter__()
            stamps: list[float] = []

            def stamp(_):
                stamps.append(time.monotonic())
                return 200, "application/json", b"{}"

            hook.answer = stamp

            async def wait_for(n: int) -> None:
                await hook.wait_for(n)

            def arrival(i: int) -> float:
                return stamps[i]
        else:
            proc = await trio.lowlevel.open_process(
                [sys.executable, "-c", _CHILD, str(ROOT / "tests" / "worker")],
                stdout=subprocess.PIPE)
            child = ChildWebhook(proc)
            await child.read_port()
            hook = child
            wait_for = child.wait_for

            def arrival(i: int) -> float:
                return child.arrivals[i]

        with tempfile.TemporaryDirectory() as tmp, EventLog.open(Path(tmp) / "bench.db") as log:
            options = DeliveryOptions(post_api=hook.url)
            async with make_http_client(options) as http:
                # --- throughput: a backlog of COUNT items, delivered from the start
                t0 = time.perf_counter()
                for i in range(args.count):
                    log.publish(message(i))
                publish_rate = args.count / (time.perf_counter() - t0)
                delivery = Delivery(options, log, http=http)
                start = trio.current_time()
                await nursery.start(delivery.run)
                await wait_for(args.count)
                elapsed = trio.current_time() - start
                print(f"publish (SQLite commit per item): {publish_rate:,.0f} items/s")
                print(f"delivery throughput: {args.count / elapsed:,.0f} events/s"
                      f" (target >= 2,000)")

                # --- latency: one item at a time, publish -> complete request at the webhook
                await delivery.wait_delivered(log.last_event_id)
                base = args.count
                latencies = []
                for i in range(args.latency_count):
                    published = time.monotonic()
                    log.publish(message(base + i))
                    await wait_for(base + i + 1)
                    latencies.append((arrival(base + i) - published) * 1000)
                    await delivery.wait_delivered(log.last_event_id)
                    await trio.sleep(0.001)  # idle between messages, as in real life
                q = statistics.quantiles(latencies, n=100)
                print(f"publish -> webhook latency p50: {q[49]:.2f} ms (target <= 5)")
                print(f"publish -> webhook latency p99: {q[98]:.2f} ms (target <= 25)")
        nursery.cancel_scope.cancel()
        if not args.same_process:
            child.proc.kill()
        else:
            await hook_cm.__aexit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--latency-count", type=int, default=1000)
    parser.add_argument("--same-process", action="store_true")
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
