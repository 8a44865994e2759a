"""wire.py: heads and body boundaries, the only HTTP parsing the proxy relay does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openwx_supervisor.wire import (
    BadMessage,
    ChunkedScanner,
    decode_chunked,
    parse_request_head,
    parse_response_head,
    without_hop_headers,
)


def _chunked(parts: list[bytes], trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" for p in parts if p)
    return body + b"0\r\n" + trailer + b"\r\n"


@given(parts=st.lists(st.binary(max_size=300), max_size=6),
       trailer=st.sampled_from([b"", b"x-sum: 1\r\n"]),
       rest=st.binary(max_size=50),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_the_scanner_finds_the_end_of_a_chunked_body_however_it_is_split(parts, trailer, rest,
                                                                         cuts):
    body = _chunked(parts, trailer)
    stream = body + rest
    pieces, last = [], 0
    for cut in sorted({min(c, len(stream)) for c in cuts}) + [len(stream)]:
        pieces.append(stream[last:cut])
        last = cut
    scanner, taken = ChunkedScanner(), 0
    for piece in pieces:
        if scanner.done:
            break
        taken += scanner.feed(piece)
    assert scanner.done and taken == len(body)
    assert decode_chunked(body) == b"".join(parts)


def test_a_bad_chunk_size_is_refused():
    with pytest.raises(BadMessage):
        ChunkedScanner().feed(b"zz\r\n")
    with pytest.raises(BadMessage):
        decode_chunked(b"5\r\nab")


def test_request_heads():
    head = parse_request_head(b"POST /openwx/x?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                              b"Expect: 100-continue\r\nConnection: keep-alive")
    assert (head.method, head.target, head.length, head.chunked) == (b"POST", b"/openwx/x?a=1",
                                                                     5, False)
    assert head.expect_continue and not head.close
    assert without_hop_headers(head.headers) == [b"content-length: 5"]
    head = parse_request_head(b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n"
                              b"Content-Length: 3\r\nConnection: close")
    assert head.chunked and head.length is None and head.close
    assert parse_request_head(b"GET / HTTP/1.0").close  # HTTP/1.0: one request
    for bad in (b"GET /", b"GET / HTTP/2", b"GET / HTTP/1.1\r\nno colon",
                b"GET / HTTP/1.1\r\n folded: x", b"GET / HTTP/1.1\r\nContent-Length: -1",
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2",
                b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip"):
        with pytest.raises(BadMessage):
            parse_request_head(bad)


def test_response_heads_and_their_framing():
    ok = parse_response_head(b"HTTP/1.1 200 \r\ncontent-length: 3\r\nserver: w", b"GET")
    assert (ok.status, ok.length, ok.close, ok.start) == (200, 3, False, b"HTTP/1.1 200 ")
    assert parse_response_head(b"HTTP/1.1 200 OK\r\ncontent-length: 3", b"HEAD").length == 0
    assert parse_response_head(b"HTTP/1.1 304 Not Modified", b"GET").length == 0
    until_close = parse_response_head(b"HTTP/1.1 200 OK\r\nx: y", b"GET")
    assert until_close.length is None and not until_close.chunked and until_close.close
    old = parse_response_head(b"HTTP/1.0 200 OK\r\ncontent-length: 1", b"GET")
    assert old.close
    with pytest.raises(BadMessage):
        parse_response_head(b"ICY 200 OK", b"GET")
