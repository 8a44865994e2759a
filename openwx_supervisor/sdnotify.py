"""systemd's notify protocol, written out (no libsystemd binding needed).

A service with ``Type=notify`` tells systemd "ready" by sending the datagram
``READY=1`` to the AF_UNIX socket named in ``$NOTIFY_SOCKET``; a name starting
with ``@`` is in the abstract namespace (a leading NUL byte). With
``WatchdogSec=`` set, systemd exports ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``)
and expects ``WATCHDOG=1`` at least that often; we send it at half the period.
Outside systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import trio

log = logging.getLogger(__name__)


def _address(env: Mapping[str, str]) -> str | bytes | None:
    path = env.get("NOTIFY_SOCKET", "")
    if not path:
        return None
    if path.startswith("@"):
        return b"\0" + path[1:].encode()
    return path


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one notification (e.g. ``"READY=1"``); False if not under systemd or on error."""
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError as exc:
        log.warning("sd_notify %r failed: %s", message, exc)
        return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None if no watchdog is asked.

    ``WATCHDOG_PID``, when set, must be our pid: otherwise the variable was meant
    for another process and was only inherited.
    """
    env = os.environ if env is None else env
    if _address(env) is None:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2_000_000


async def watchdog_loop(env: Mapping[str, str] | None = None) -> None:
    """Ping the systemd watchdog forever at half its period (returns at once if none)."""
    interval = watchdog_interval(env)
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1", env)
        await trio.sleep(interval)
