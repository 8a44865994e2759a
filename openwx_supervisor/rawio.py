"""Non-blocking sockets driven by trio's I/O waits, without ``trio.SocketStream``.

The proxy hot path makes one ``recv`` and one ``send`` per direction and message;
``SocketStream`` wraps each in a conflict detector, a cancellation checkpoint and
trio's socket wrapper (~9 us per send/recv pair on the project's machine, against
~2 us for the plain calls), which is a tenth of the supervisor's whole cost of a
proxied request. Here a call tries the socket first and only waits (a trio
checkpoint) when it would block. A task that always finds data ready is not
descheduled: the relay's callers always wait for a worker's reply in between.
"""

from __future__ import annotations

import errno
import socket

import trio

RECV = 65536


class Broken(Exception):
    """The connection was reset or closed under us."""


class Stream:
    """One connected non-blocking socket (TCP_NODELAY: replies go out at once)."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    async def recv(self) -> bytes:
        """Some bytes; b"" at end of stream."""
        sock = self.sock
        while True:
            try:
                return sock.recv(RECV)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(sock)
            except OSError as exc:
                raise Broken(exc) from exc

    async def send_all(self, data: bytes) -> None:
        sock = self.sock
        view: memoryview | None = None
        while True:
            try:
                sent = sock.send(view if view is not None else data)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                continue
            except OSError as exc:
                raise Broken(exc) from exc
            if view is None:
                if sent == len(data):
                    return
                view = memoryview(data)
            view = view[sent:]
            if not view:
                return

    def peer_closed(self) -> bool:
        """True if the peer closed (or wrote unasked): not reusable for a new request."""
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    async def wait_closed(self) -> None:
        """Return once the peer has closed; never if it sends data instead."""
        while True:
            await trio.lowlevel.wait_readable(self.sock)
            try:
                if not self.sock.recv(1, socket.MSG_PEEK):
                    return
            except BlockingIOError:
                continue
            except OSError:
                return
            await trio.sleep_forever()

    def close(self) -> None:
        trio.lowlevel.notify_closing(self.sock)
        self.sock.close()


async def connect(host: str, port: int) -> Stream:
    """A TCP connection to a numeric host (raises OSError, e.g. refused)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        err = sock.connect_ex((host, port))
        if err in (errno.EINPROGRESS, errno.EAGAIN):
            await trio.lowlevel.wait_writable(sock)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, errno.errorcode.get(err, "connect failed"))
        return Stream(sock)
    except BaseException:
        trio.lowlevel.notify_closing(sock)
        sock.close()
        raise


def listen(host: str, port: int, backlog: int = 1024) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (as trio.open_tcp_listeners)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
            if port == 0:
                break  # one random port: another family would get another number
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def accept_loop(listener: socket.socket, handler, nursery: trio.Nursery) -> None:
    """Accept forever, starting ``handler(Stream, peer)`` for each connection."""
    while True:
        try:
            sock, peer = listener.accept()
        except BlockingIOError:
            await trio.lowlevel.wait_readable(listener)
            continue
        except OSError as exc:  # e.g. EMFILE: wait a bit rather than spin
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                await trio.sleep(0.1)
                continue
            if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                continue
            raise
        nursery.start_soon(handler, Stream(sock), peer)
