"""Choosing a port for a new worker, without racing the workers still starting.

The original controller picked "the first free port" by probing, so two
start_client calls in quick succession could pick the same port before either
worker had bound it (reference F.3, H.8). Here a port handed out stays
*reserved* in the allocator until its watcher releases it (the account is
stopped for good), so a port is never given twice while its worker is starting,
restarting or running. A watcher keeps its port across restarts.
"""

from __future__ import annotations

import errno
import socket

PORT_CEILING = 65000


class NoPortAvailable(RuntimeError):
    pass


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port and we could bind it now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        try:
            if s.connect_ex((host, port)) == 0:
                return False
        except OSError:
            pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as servers do (hypercorn too): connections of a dead worker left in
        # TIME_WAIT must not make its port look taken
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class PortAllocator:
    """Hands out ports from ``start`` upward, remembering which are taken by us."""

    def __init__(self, start: int, host: str = "127.0.0.1", ceiling: int = PORT_CEILING) -> None:
        self.start = min(start, 49152)
        self.host = host
        self.ceiling = ceiling
        self._reserved: dict[int, str] = {}

    def reserve(self, owner: str, preferred: int | None = None) -> int:
        """A port for ``owner``: its ``preferred`` one if still usable, else the first free one.

        Idempotent per owner: an owner that already holds a port gets it back.
        """
        for port, who in self._reserved.items():
            if who == owner:
                return port
        if preferred is not None and preferred not in self._reserved and port_is_free(self.host, preferred):
            self._reserved[preferred] = owner
            return preferred
        for port in range(self.start, self.ceiling + 1):
            if port in self._reserved:
                continue
            if port_is_free(self.host, port):
                self._reserved[port] = owner
                return port
        raise NoPortAvailable(f"no free port between {self.start} and {self.ceiling}")

    def refresh(self, owner: str) -> int:
        """Before a respawn: keep the owner's port if still free, else move it to a free one."""
        for port, who in list(self._reserved.items()):
            if who == owner:
                if port_is_free(self.host, port):
                    return port
                del self._reserved[port]
        return self.reserve(owner)

    def claim(self, owner: str, port: int) -> None:
        """Record a port already in use by ``owner`` (a worker taken over after a restart)."""
        self._reserved[port] = owner

    def release(self, owner: str) -> None:
        for port in [p for p, who in self._reserved.items() if who == owner]:
            del self._reserved[port]
