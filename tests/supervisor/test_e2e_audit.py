"""End to end, the points of issue 7 the first end-to-end tests left unproven.

Real ``openwx-worker`` processes, real HTTP on loopback, wechat_sim on the other
side: the QR code of a worker that waits for a scan (no auto-confirm), events
reaching a real webhook with ``client=NAME``, the process title naming the
account, and workers ending by themselves when their supervisor is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.parse
from functools import partial

import httpx
import pytest
import trio

from openwx_supervisor.server import open_supervisor
from openwx_supervisor.watcher import pid_alive, wait_pid_gone
from wechat_sim.model import LoginState
from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig
from wechat_sim.worldgen import generate

from .test_e2e import SAFETY, cli_with_two_accounts, e2e_config, until_logged_in, worker_state


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        yield client


class Webhook:
    """A bare HTTP/1.1 receiver on loopback that records every request (target, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.changed = trio.Event()
        self.url = ""

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    key, _, value = line.partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += await stream.receive_some(65536)
                body, buffer = buffer[:length], buffer[length:]
                self.requests.append((lines[0].split(" ")[1], body))
                self.changed.set()
                self.changed = trio.Event()
                await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                      b"Content-Length: 2\r\n\r\n{}")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def wait_for(self, predicate) -> tuple[str, bytes]:
        with trio.fail_after(SAFETY):
            while True:
                for request in self.requests:
                    if predicate(*request):
                        return request
                await self.changed.wait()


@pytest.fixture
async def webhook():
    hook = Webhook()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, hook.handle, 0, host="127.0.0.1"))
        hook.url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/hook?k=1"
        yield hook
        nursery.cancel_scope.cancel()


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


async def test_qr_code_while_waiting_for_a_scan_and_events_reach_post_api(tmp_path, http, webhook):
    """No auto-confirm: the worker waits for a scan, get_qrcode serves its QR, then the phone
    scans and confirms; the webhook sees the worker's events with ``client=a`` in the query."""
    world = generate(accounts=2, friends=2, groups=1, members=3, config=SimConfig(auto_confirm=False))
    async with open_sim(world) as sim:
        config = e2e_config(tmp_path, sim, accounts=("a",), post_api=webhook.url)
        async with open_supervisor(config) as sup:
            with trio.fail_after(SAFETY):
                while (await worker_state(http, sup.url, "a")).get("state") != "scaning":  # noqa: ASYNC110 -- another process: poll
                    await trio.sleep(0.05)
            r = await http.get(f"{sup.url}/openwx/get_qrcode", params={"client": "a"})
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpg"
            assert r.headers["cache-control"] == "no-cache"
            assert r.content[:2] == b"\xff\xd8"  # a JPEG
            qr_file = os.path.join(config.effective_tmpdir, "mojo_weixin_qrcode_a.jpg")
            assert r.content == open(qr_file, "rb").read()  # noqa: ASYNC230,SIM115 -- small file
            if sys.platform.startswith("linux"):
                assert _comm(sup.arbiter.watchers["a"].pid) == "wx:a"  # the process title

            waiting = [u for u, login in world.logins.items() if login.state is LoginState.WAITING]
            assert len(waiting) == 1
            world.scan(waiting[0], next(iter(world.accounts)))
            world.confirm(waiting[0])
            await until_logged_in(http, sup.url, "a")
            r = await http.get(f"{sup.url}/openwx/get_qrcode", params={"client": "a"})
            assert r.status_code == 404 and r.json()["code"] == 9  # logged in: no QR any more

            def posted(target: str, body: bytes) -> bool:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
                return (json.loads(body).get("post_type") == "event"
                        and query == {"k": ["1"], "client": ["a"]})

            target, body = await webhook.wait_for(posted)
            assert urllib.parse.urlsplit(target).path == "/hook"
            assert all(urllib.parse.parse_qs(urllib.parse.urlsplit(t).query)["client"] == ["a"]
                       for t, _ in webhook.requests)


async def test_workers_exit_when_their_supervisor_is_sigkilled(tmp_path, http):
    """SIGKILL gives the supervisor no chance to stop anyone: the parent pipe does it."""
    world = generate(accounts=3, friends=2, groups=1, members=3,
                     config=SimConfig(auto_confirm=True, auto_delay=0.05))
    async with open_sim(world, auto_confirm=True) as sim:
        async with cli_with_two_accounts(tmp_path, sim, http, port_offset=200) as (proc, pids):
            try:
                proc.send_signal(signal.SIGKILL)
                assert await proc.wait() == -signal.SIGKILL
                with trio.fail_after(SAFETY):  # pidfd: an exited worker counts before it is reaped
                    for pid in pids:
                        await wait_pid_gone(pid)
            finally:
                for pid in pids:  # on failure, leave no orphan behind either
                    if pid_alive(pid):
                        os.kill(pid, signal.SIGKILL)
