"""Fault injection (`/sim/faults`): each kind, per endpoint, for the next N calls only.

The failures are the ones web-protocol.md reports: HTTP 5xx, a connection closed without an
answer, a slow answer, the garbage status line of the push host (6.1) and Ret 1205 (10.1).
"""

from __future__ import annotations

import httpx
import pytest
import trio
from sim_webclient import ALICE, CGI, WebClient

from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig


def no_timeout_client() -> httpx.AsyncClient:
    """A client without timeouts: under autojump_clock a timeout is a trio deadline the clock
    could jump to while loopback I/O is merely slow."""
    return httpx.AsyncClient(timeout=None)


async def fault(web, **spec) -> dict:
    r = await web.control("POST", "/sim/faults", spec)
    assert r.status_code == 200, r.text
    return r.json()


async def pending(web) -> list[dict]:
    r = await web.control("GET", "/sim/faults")
    assert r.status_code == 200
    return r.json()


def synccheck_target(web) -> str:
    c = web.creds
    key = web.synckey_str(c.check_key)
    return (
        f"{CGI}synccheck?r=1&skey={c.skey}&sid={c.sid}&uin={c.uin}&deviceid=e123456789012345"
        f"&synckey={key}&_=1"
    )


async def raw_get(base_url: str, target: str) -> bytes:
    """Send one GET on a fresh socket and read until the server closes (or 2 KiB)."""
    host, port = base_url.rsplit("//", 1)[1].rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        with trio.fail_after(10):
            while len(data) < 2048:
                chunk = await stream.receive_some(2048)
                if not chunk:
                    break
                data += chunk
        return data


async def test_http_500_for_the_next_n_calls_then_normal(alice):
    spec = await fault(alice, endpoint="webwxsync", kind="http_500", count=2)
    assert spec["remaining"] == 2
    for left in (1, 0):
        r = await alice.http.post(
            f"{alice.creds.main}{CGI}webwxsync?sid={alice.creds.sid}",
            json={"BaseRequest": alice.base_request(), "SyncKey": alice.creds.sync_key},
        )
        assert r.status_code == 500
        assert [f["remaining"] for f in await pending(alice)] == ([left] if left else [])
    assert (await alice.sync())["BaseResponse"]["Ret"] == 0


async def test_http_5xx_status_can_be_chosen(alice):
    await fault(alice, endpoint="webwxinit", kind="http_500", status=503)
    r = await alice.http.post(
        f"{alice.creds.main}{CGI}webwxinit?r=1", json={"BaseRequest": alice.base_request()}
    )
    assert r.status_code == 503


async def test_drop_closes_the_connection_without_a_response(alice, sim):
    await fault(alice, endpoint="synccheck", kind="drop")
    assert await raw_get(sim.base_url, synccheck_target(alice)) == b""
    # the next call is answered as usual
    await alice.statusnotify()
    assert await alice.synccheck() == ("0", "7")


async def test_drop_seen_by_an_http_client(alice):
    await fault(alice, endpoint="synccheck", kind="drop")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await alice.synccheck()
    assert await pending(alice) == []


async def test_garbage_status_line_on_synccheck(alice, sim):
    await fault(alice, endpoint="synccheck", kind="garbage", count=2)
    raw = await raw_get(sim.base_url, synccheck_target(alice))
    assert raw and not raw.startswith(b"HTTP/")
    assert raw.split(b"\r\n")[0].count(b":") >= 3  # hex bytes like 6f:00:8a:9c:...
    with pytest.raises(httpx.RemoteProtocolError):
        await alice.synccheck()
    await alice.statusnotify()
    assert await alice.synccheck() == ("0", "7")


async def test_ret_1205_refuses_a_send_without_sending(alice, sim):
    await fault(alice, endpoint="webwxsendmsg", kind="ret_1205")
    answer = await alice.send_text("filehelper", "too fast")
    assert answer["BaseResponse"]["Ret"] == 1205
    assert (await alice.control("GET", f"/sim/accounts/{ALICE}/sent")).json() == []
    answer = await alice.send_text("filehelper", "now fine")
    assert answer["BaseResponse"]["Ret"] == 0


async def test_ret_1205_on_synccheck_is_a_retcode(alice):
    await fault(alice, endpoint="synccheck", kind="ret_1205")
    assert await alice.synccheck() == ("1205", "0")


async def test_delay_answers_late_in_trio_time(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim(config=SimConfig(synccheck_hold=25)) as sim:
        async with httpx.AsyncClient(timeout=None) as http:  # no trio-time timeouts: autojump
            web = await WebClient(http, sim.base_url).log_in(ALICE)
            await fault(web, endpoint="webwxsync", kind="delay", delay=40)
            start = trio.current_time()
            assert (await web.sync())["BaseResponse"]["Ret"] == 0
            assert trio.current_time() - start >= 40
            start = trio.current_time()
            await web.sync()
            assert trio.current_time() - start < 40


async def test_wildcard_and_per_endpoint_matching(alice):
    await fault(alice, endpoint="webwxbatchgetcontact", kind="ret_1205")
    assert (await alice.sync())["BaseResponse"]["Ret"] == 0  # other endpoints untouched
    assert (await alice.batch(["filehelper"]))["BaseResponse"]["Ret"] == 1205
    await fault(alice, endpoint="*", kind="ret_1205")
    assert (await alice.sync())["BaseResponse"]["Ret"] == 1205
    # the control API is never faulted
    assert (await alice.control("GET", "/sim/accounts")).status_code == 200


async def test_list_and_clear(alice):
    await fault(alice, endpoint="synccheck", kind="drop", count=3)
    await fault(alice, endpoint="/cgi-bin/mmwebwx-bin/webwxsync", kind="delay", delay=1.5)
    listed = await pending(alice)
    assert [(f["endpoint"], f["kind"], f["remaining"]) for f in listed] == [
        ("synccheck", "drop", 3),
        ("webwxsync", "delay", 1),
    ]
    r = await alice.control("DELETE", "/sim/faults")
    assert r.json() == {"cleared": 2}
    assert await pending(alice) == []
    await alice.statusnotify()
    assert await alice.synccheck() == ("0", "7")


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "synccheck", "kind": "explode"},
        {"endpoint": "synccheck", "kind": "drop", "count": 0},
        {"endpoint": "synccheck", "kind": "delay"},
        {"endpoint": "synccheck", "kind": "http_500", "status": 404},
        {"endpoint": "synccheck", "kind": "drop", "typo": 1},
    ],
)
async def test_bad_fault_specs_are_refused(web, spec):
    r = await web.control("POST", "/sim/faults", spec)
    assert r.status_code == 400 and "error" in r.json()


async def test_login_endpoints_by_name(web, sim):
    await fault(web, endpoint="jslogin", kind="ret_1205")
    r = await web.http.get(sim.base_url + "/jslogin", params={"appid": "wx782c26e4c19acffb"})
    assert "1205" in r.text
    uuid = await web.jslogin()
    await fault(web, endpoint="qrcode", kind="http_500", status=502)
    assert (await web.http.get(f"{sim.base_url}/qrcode/{uuid}")).status_code == 502
    r = await web.http.get(f"{sim.base_url}/qrcode/{uuid}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"


async def test_rate_limit_per_account_and_window(mock_clock):
    """Strict 13: more than `max` sends within `per` seconds -> Ret 1205, until the window
    has passed; another account is counted apart."""
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, no_timeout_client() as a_http, no_timeout_client() as b_http:
        alice, bob = WebClient(a_http, sim.base_url), WebClient(b_http, sim.base_url)
        for web, who in ((alice, ALICE), (bob, "wxid_bob000000000002")):
            await web.qr_login(who)
            await web.init()
        r = await alice.control(
            "POST", "/sim/rate_limits", {"endpoint": "webwxsendmsg", "max": 3, "per": 60}
        )
        assert r.json() == {"endpoint": "webwxsendmsg", "max": 3, "per": 60, "refused": 0}
        rets = [
            (await alice.send_text("filehelper", f"m{i}"))["BaseResponse"]["Ret"] for i in range(4)
        ]
        assert rets == [0, 0, 0, 1205]
        assert (await bob.send_text("filehelper", "bob"))["BaseResponse"]["Ret"] == 0
        await trio.sleep(61)
        assert (await alice.send_text("filehelper", "later"))["BaseResponse"]["Ret"] == 0
        [limit] = (await alice.control("GET", "/sim/rate_limits")).json()
        assert limit["refused"] == 1
        sent = (await alice.control("GET", f"/sim/accounts/{ALICE}/sent")).json()
        assert [s["content"] for s in sent] == ["m0", "m1", "m2", "later"]
        assert (await alice.control("DELETE", "/sim/rate_limits")).json() == {"cleared": 1}


async def test_drop_after_a_delay_like_a_long_poll_cut_off(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, no_timeout_client() as http:
        web = await WebClient(http, sim.base_url).log_in(ALICE)
        await fault(web, endpoint="synccheck", kind="drop", delay=25)
        start = trio.current_time()
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await web.synccheck()
        assert trio.current_time() - start >= 25


async def test_drop_without_hypercorn_degrades_to_502():
    """Under another ASGI server the connection is out of reach: the fault answers 502."""
    from wechat_sim.protocol.app import create_app
    from wechat_sim.worldgen import default_world

    world = default_world()
    world.faults.add("synccheck", "drop")
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": CGI + "synccheck", "raw_path": b"",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1:1")], "scheme": "http",
    }  # fmt: skip
    await create_app(world)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 502
    assert world.faults.pending == []
