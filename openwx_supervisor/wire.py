"""HTTP/1.1 on the wire, as much as a relay needs: parse a head, find where a body ends.

The supervisor's port relays requests as bytes (see ``httpd.py`` for why); it
reads heads itself and otherwise only needs to know where each message ends so
that a keep-alive connection can carry the next one: ``Content-Length`` bytes, a
chunked body (:class:`ChunkedScanner`, which finds the end without copying), or
"until the connection closes". Pure functions, no I/O: tested on their own.
Not h11 (which hypercorn uses): its state machines cost ~65 us per proxied
request (request and reply), this ~8 us, against ~300 us of total budget.
"""

from __future__ import annotations

HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024

# headers that describe one hop, not the message (RFC 9110 7.6.1), plus those the
# relay sets itself (host, expect: we answer 100-continue ourselves)
HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade",
    b"host", b"proxy-authorization", b"proxy-authenticate", b"expect",
})


class BadMessage(Exception):
    """A head or body framing we cannot read; the connection cannot go on."""


class Head:
    """One parsed head. ``length`` is None with ``chunked`` False: no body (request) or
    a body that ends when the connection closes (response)."""

    __slots__ = ("start", "method", "target", "version", "status", "headers", "length",
                 "chunked", "close", "expect_continue")

    def __init__(self) -> None:
        self.start = b""  # the first line as received
        self.method = b""
        self.target = b""
        self.version = b"1.1"
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []  # names lower-cased, values stripped
        self.length: int | None = None
        self.chunked = False
        self.close = False  # the sender will close (or asked us to) after this message
        self.expect_continue = False


def _fields(head: Head, lines: list[bytes]) -> None:
    headers = head.headers
    connection = b""
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in b" \t" or line[:1] in b" \t":
            raise BadMessage("malformed header line")
        name = name.lower()
        value = value.strip()
        headers.append((name, value))
        if name == b"content-length":
            if not value.isdigit() or (head.length is not None and head.length != int(value)):
                raise BadMessage("bad content-length")
            head.length = int(value)
        elif name == b"transfer-encoding":
            if value.lower().rsplit(b",", 1)[-1].strip() != b"chunked":
                raise BadMessage("unsupported transfer-encoding")
            head.chunked = True
        elif name == b"connection":
            connection += b"," + value.lower()
        elif name == b"expect":
            head.expect_continue = value.lower() == b"100-continue"
    if head.chunked:
        head.length = None  # RFC 9112 6.3: chunked wins over a content-length
    tokens = {t.strip() for t in connection.split(b",")}
    head.close = b"close" in tokens or (head.version == b"1.0" and b"keep-alive" not in tokens)


def parse_request_head(data: bytes) -> Head:
    """``data`` is the head without its final blank line."""
    lines = data.split(b"\r\n")
    head = Head()
    head.start = lines[0]
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not parts[0] or not parts[1]:
        raise BadMessage("malformed request line")
    head.method, head.target = parts[0], parts[1]
    head.version = parts[2][5:]
    _fields(head, lines[1:])
    if head.version == b"1.0":
        head.close = True  # we do not keep HTTP/1.0 connections alive
    return head


def parse_response_head(data: bytes, request_method: bytes) -> Head:
    lines = data.split(b"\r\n")
    head = Head()
    head.start = lines[0]
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise BadMessage("malformed status line")
    head.version = parts[0][5:]
    head.status = int(parts[1])
    _fields(head, lines[1:])
    if request_method == b"HEAD" or head.status in (204, 304) or head.status < 200:
        head.length, head.chunked = 0, False
    elif head.length is None and not head.chunked:
        head.close = True  # delimited by the end of the connection
    return head


def without_hop_headers(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    """``name: value`` lines of the end-to-end headers (framing ones kept)."""
    return [k + b": " + v for k, v in headers if k not in HOP]


class ChunkedScanner:
    """Finds where a chunked body ends in a stream of byte strings, without decoding it.

    ``feed(data)`` returns how many bytes of ``data`` belong to the body: all of them
    until the last chunk and its trailer have been seen (then ``done`` is True and the
    rest of ``data`` is the next message).
    """

    __slots__ = ("_skip", "_line", "_trailer", "done")

    def __init__(self) -> None:
        self._skip = 0  # chunk data (and its CRLF) still to pass over
        self._line = b""  # an unfinished size or trailer line
        self._trailer = False
        self.done = False

    def feed(self, data: bytes) -> int:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                pos += take
                self._skip -= take
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._line += data[pos:]
                if len(self._line) > 4096:
                    raise BadMessage("chunk size line too long")
                return end
            line = (self._line + data[pos:nl]).rstrip(b"\r")
            self._line = b""
            pos = nl + 1
            if self._trailer:
                if not line:
                    self.done = True
                    return pos
                continue
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadMessage("bad chunk size") from None
            if size < 0:
                raise BadMessage("bad chunk size")
            if size == 0:
                self._trailer = True
            else:
                self._skip = size + 2
        return end


def decode_chunked(body: bytes) -> bytes:
    """The data of a complete chunked body (the controller endpoints read small bodies whole)."""
    out, pos = [], 0
    while True:
        nl = body.find(b"\n", pos)
        if nl < 0:
            raise BadMessage("truncated chunked body")
        try:
            size = int(body[pos:nl].split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadMessage("bad chunk size") from None
        if size <= 0:
            return b"".join(out)
        out.append(body[nl + 1:nl + 1 + size])
        pos = nl + 1 + size + 2
