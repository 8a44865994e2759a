"""The ticket exchange accepts both answers the server gives (web-protocol.md §3.4).

The simulator answers 200 (the worker always asks with ``fun=new&version=v2``); the
other form, 301 without a Location header and the XML in the body, is what the real
server sends to a redirect_uri followed as is.  A small loopback server plays it.
"""

from __future__ import annotations

import pytest
import trio

from openwx_worker.errors import Refused
from openwx_worker.webwx.login import exchange_ticket
from openwx_worker.webwx.session import Session, open_http

XML = (b"<error><ret>0</ret><message></message><skey>@crypt_9</skey><wxsid>SID</wxsid>"
       b"<wxuin>4242</wxuin><pass_ticket>p%2Bt</pass_ticket><isgrayscale>1</isgrayscale>"
       b"</error>")
REFUSED = "<error><ret>1203</ret><message>为了你的帐号安全，此微信号不能登录网页微信。</message></error>"


async def _one_answer_server(status_line: bytes, body: bytes, seen: list[bytes], *,
                             task_status=trio.TASK_STATUS_IGNORED) -> None:
    async def answer(stream: trio.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive_some(65536)
        seen.append(request)
        await stream.send_all(
            status_line + b"\r\nContent-Type: text/plain\r\n"
            b"Set-Cookie: wxuin=4242; Path=/\r\nSet-Cookie: webwx_data_ticket=T; Path=/\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            + body)
        await stream.aclose()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(answer, listeners)


@pytest.mark.parametrize("status_line", [b"HTTP/1.1 200 OK", b"HTTP/1.1 301 Moved Permanently"])
async def test_exchange_reads_both_answer_forms(status_line):
    seen: list[bytes] = []
    async with trio.open_nursery() as nursery:
        port = await nursery.start(_one_answer_server, status_line, XML, seen)
        async with open_http(f"http://127.0.0.1:{port}") as http:
            session = Session(http)
            creds = await exchange_ticket(
                session, "https://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage"
                "?ticket=A@qrticket_0&uuid=U==&lang=zh_CN&scan=1")
            assert (creds.uin, creds.sid, creds.skey, creds.pass_ticket) == (
                "4242", "SID", "@crypt_9", "p%2Bt")
            assert session.hosts.main == "wx2.qq.com" and session.data_ticket() == "T"
        nursery.cancel_scope.cancel()
    request_line, headers = seen[0].split(b"\r\n", 1)
    assert b"fun=new" in request_line and b"version=v2" in request_line
    assert b"host: wx2.qq.com" in headers.lower()


async def test_exchange_refused_is_typed():
    seen: list[bytes] = []
    async with trio.open_nursery() as nursery:
        port = await nursery.start(_one_answer_server, b"HTTP/1.1 301 Moved Permanently",
                                   REFUSED.encode(), seen)
        async with open_http(f"http://127.0.0.1:{port}") as http:
            with pytest.raises(Refused, match="网页微信"):
                await exchange_ticket(Session(http), "https://wx.qq.com/cgi-bin/mmwebwx-bin/"
                                      "webwxnewloginpage?ticket=B&uuid=V==")
        nursery.cancel_scope.cancel()
