#!/usr/bin/env python
"""Benchmark of the Openwx HTTP API (the worker's ASGI app).

Prints:

* get_friend_info server-side time with 5,000 friends (target <= 10 ms): the time
  the app takes from request to the last body byte, measured in-process;
* requests/s of get_user_info and search_friend on one keep-alive HTTP/1.1
  connection (target >= 1,500 req/s for get_user_info on 2 cores), the server
  (hypercorn, trio worker, as the worker runs it) in its own process and the
  client a minimal blocking socket client in this one, so the figure is the
  server's, not the client library's;
* hypercorn meets the target (2,400-2,700 req/s measured here, other work running
  on the machine), so no other server is needed; ``--servers`` names the servers to
  measure should another be added to ``serve_main``.

    .venv/bin/python scripts/bench_api.py [--friends 5000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import trio

from openwx_worker.api import create_app
from openwx_worker.config import WorkerConfig
from openwx_worker.contacts import ContactBook
from openwx_worker.events import EventLog
from openwx_worker.models import make_friend, make_group, make_member, make_user
from openwx_worker.state import ClientState


def contact_book(friends: int, groups: int = 30, members: int = 100) -> ContactBook:
    book = ContactBook()
    book.replace_all(
        make_user(id="@me", uid=123456, name="bench"),
        [
            make_friend(id=f"@friend{i:05d}", name=f"好友{i}", markname=f"备注{i}" if i % 3 else "",
                        account=f"acct{i}", province="广东", city=("深圳", "广州")[i % 2],
                        signature="个性签名" * 3, sex=1 + i % 2)
            for i in range(friends)
        ],
        [
            make_group(id=f"@@group{g}", name=f"群{g}", self_id="@me", members=[
                make_member(id=f"@m{g}_{m}", nickname=f"成员{m}") for m in range(members)])
            for g in range(groups)
        ],
    )  # fmt: skip
    return book


def make_worker(friends: int, tmp: str, events: EventLog) -> SimpleNamespace:
    client = SimpleNamespace(contacts=contact_book(friends), state=ClientState.running)
    config = WorkerConfig(tmpdir=tmp, data_dir=tmp)
    return SimpleNamespace(client=client, config=config, events=events, state=None)


# --------------------------------------------------------------------------- in-process


async def _call(app, path: str, query: bytes = b"") -> float:
    """One request through the ASGI app; seconds until the last body byte."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await trio.sleep_forever()
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    size = 0

    async def send(message):
        nonlocal size
        size += len(message.get("body", b""))

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query,
             "headers": [], "http_version": "1.1"}  # fmt: skip
    start = time.perf_counter()
    await app(scope, receive, send)
    elapsed = time.perf_counter() - start
    assert size > 0
    return elapsed


async def server_side(friends: int, rounds: int) -> None:
    tmp = tempfile.mkdtemp(prefix="openwx-bench-")
    with EventLog.open(os.path.join(tmp, "events.db")) as events:
        app = create_app(make_worker(friends, tmp, events))
        times = [await _call(app, "/openwx/get_friend_info") for _ in range(rounds)]
        search = [await _call(app, "/openwx/search_friend", b"city=%E6%B7%B1%E5%9C%B3")
                  for _ in range(rounds)]  # fmt: skip
    med = statistics.median(times) * 1000
    p95 = sorted(times)[int(len(times) * 0.95)] * 1000
    print(f"get_friend_info server-side, {friends} friends: median {med:.2f} ms, "
          f"p95 {p95:.2f} ms (target <= 10 ms)")
    print(f"search_friend city=深圳 server-side, {friends} friends: median "
          f"{statistics.median(search) * 1000:.2f} ms")


# --------------------------------------------------------------------------- servers


def serve_main(kind: str, friends: int) -> None:
    """Child process: serve the app on 127.0.0.1:0, print the port, run until killed."""
    tmp = tempfile.mkdtemp(prefix="openwx-bench-")

    async def run() -> None:
        with EventLog.open(os.path.join(tmp, "events.db")) as events:
            app = create_app(make_worker(friends, tmp, events))
            if kind == "hypercorn":  # exactly as the worker serves it (runtime.serve_api)
                from openwx_worker.runtime import serve_api

                config = WorkerConfig(tmpdir=tmp, data_dir=tmp, port=0)
                async with trio.open_nursery() as nursery:
                    port = await nursery.start(serve_api, app, config)
                    print(port, flush=True)
            else:
                raise SystemExit(f"unknown server {kind}")

    trio.run(run)


class KeepAliveClient:
    """A minimal blocking HTTP/1.1 client: one connection, sequential requests.

    If the server closes the connection (hypercorn does after
    ``keep_alive_max_requests``), it reconnects and counts it in ``reconnects``.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reconnects = -1
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.reconnects += 1

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the keep-alive connection")
        return data

    def get(self, target: str) -> bytes:
        try:
            return self._get(target)
        except ConnectionError:
            self.sock.close()
            self._connect()
            return self._get(target)

    def _get(self, target: str) -> bytes:
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        self.buf = rest[length:]
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode())
        return rest[:length]


def requests_per_second(port: int, target: str, seconds: float) -> tuple[float, int]:
    """(requests/s, connections the server closed) for sequential GETs of ``target``."""
    client = KeepAliveClient(port)
    for _ in range(50):  # warm up
        client.get(target)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        client.get(target)
        count += 1
    return count / (time.perf_counter() - start), client.reconnects


def start_server(kind: str, friends: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--friends", str(friends)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        proc.kill()
        raise RuntimeError(f"{kind} did not start")
    return proc, int(line)


def throughput(kind: str, friends: int, seconds: float) -> None:
    proc, port = start_server(kind, friends)
    try:
        user, closed = requests_per_second(port, "/openwx/get_user_info", seconds)
        search, closed2 = requests_per_second(port, "/openwx/search_friend?id=%40friend00042",
                                              seconds)  # fmt: skip
        friends_rps, _ = requests_per_second(port, "/openwx/get_friend_info", seconds / 2)
    finally:
        proc.kill()
        proc.wait()
    target = " (target >= 1500 req/s)" if kind == "hypercorn" else ""
    print(f"get_user_info req/s, one keep-alive connection, {kind}: {user:.0f}{target}")
    print(f"search_friend req/s, one keep-alive connection, {kind}: {search:.0f}")
    print(f"get_friend_info round trip over HTTP, {friends} friends, {kind}: "
          f"{1000 / friends_rps:.2f} ms")
    print(f"keep-alive connections closed by the server during the runs: {closed + closed2}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--friends", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--servers", default="hypercorn",
                        help="comma list of servers to measure (hypercorn: the worker's)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve, args.friends)
        return
    trio.run(server_side, args.friends, args.rounds)
    for kind in args.servers.split(","):
        throughput(kind.strip(), args.friends, args.seconds)


if __name__ == "__main__":
    main()
