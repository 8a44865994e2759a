"""sd_notify over a datagram socket of the test's own (path and abstract names)."""

from __future__ import annotations

import os
import socket

import httpx
import pytest
import trio

from openwx_supervisor import sdnotify
from openwx_supervisor.server import open_supervisor

from .helpers import fast_config


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.setblocking(False)
    yield sock, path
    sock.close()


def received(sock) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_notify_to_a_path_socket(notify_socket):
    sock, path = notify_socket
    assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": path})
    assert received(sock) == ["READY=1"]


def test_notify_to_an_abstract_socket():
    name = f"openwx-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.setblocking(False)
        assert sdnotify.notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert received(sock) == ["WATCHDOG=1"]


def test_outside_systemd_nothing_happens():
    assert sdnotify.notify("READY=1", {}) is False
    assert sdnotify.watchdog_interval({}) is None


def test_watchdog_interval_is_half_the_period_and_only_for_us(notify_socket):
    _, path = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"}
    assert sdnotify.watchdog_interval(env) == 10.0
    assert sdnotify.watchdog_interval({**env, "WATCHDOG_PID": str(os.getpid())}) == 10.0
    assert sdnotify.watchdog_interval({**env, "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval({**env, "WATCHDOG_USEC": "x"}) is None


async def test_watchdog_loop_pings_at_half_the_period(notify_socket, autojump_clock):
    sock, path = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"}
    with trio.move_on_after(5):  # virtual seconds: pings at 0, 2, 4
        await sdnotify.watchdog_loop(env)
    assert received(sock) == ["WATCHDOG=1"] * 3


async def test_the_supervisor_says_ready_once_listening_and_stopping_at_the_end(
        notify_socket, tmp_path, monkeypatch):
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    async with open_supervisor(fast_config(tmp_path)) as sup:
        messages = received(sock)
        assert len(messages) == 1 and messages[0].startswith("READY=1\n")
        assert f"MAINPID={os.getpid()}" in messages[0]
        async with httpx.AsyncClient(trust_env=False) as http:  # it really listens by now
            assert (await http.get(f"{sup.url}/healthz")).json()["code"] == 0
    assert received(sock) == ["STOPPING=1"]


async def test_the_running_supervisor_pings_the_watchdog(notify_socket, tmp_path, monkeypatch):
    """WATCHDOG_USEC in the supervisor's environment: WATCHDOG=1 keeps coming while it runs."""
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 50 ms
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    async with open_supervisor(fast_config(tmp_path)):
        pings: list[str] = []
        with trio.fail_after(10):
            while len(pings) < 3:
                await trio.lowlevel.wait_readable(sock)
                pings += [m for m in received(sock) if m == "WATCHDOG=1"]
    assert "STOPPING=1" in received(sock)
    await trio.sleep(0.2)  # four periods after the end: the pings stopped with it
    assert received(sock) == []
