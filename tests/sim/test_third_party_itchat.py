"""An unmodified third-party web WeChat client against the simulator (issue 3's claim).

itchat 1.3.10 (PyPI) was written against the real service. Here it logs in (QR, auto-confirmed
by the sim's phone), runs its own receive loop (synccheck + webwxsync in its thread), sees an
injected text and image through its `msg_register` handlers (and downloads the image), sends a
text and an uploaded image, reads its contact list, logs out, and resumes a session from its
hot-reload pickle (falling back to push login); the sim's control API checks each step from the
other side. Nothing of itchat's logic is touched (one stdlib function removed in Python 3.9 is
put back, see the fixture); it is pointed at the sim in one of two ways:

- direct: `itchat.config.BASE_URL` (a configuration constant) = the sim's own address; every
  later URL comes from the sim's `redirect_uri`, and as it names no WeChat host itchat keeps
  the sync and upload calls on that address too.
- named: itchat's config untouched (`https://login.weixin.qq.com`); its requests session gets a
  transport adapter that carries every request, `https://` included, to the sim as an
  absolute-form target (what a forwarding proxy receives, minus TLS). The sim answers with real
  host names, and itchat derives `webpush.`/`file.` hosts itself.

Plain `proxies={"http": sim}` is not enough for the named case: itchat hard-codes
`https://webpush.<host>` and `https://file.<host>` for synccheck and uploads (whatever scheme
`redirect_uri` had), and an https request through an HTTP proxy is a CONNECT tunnel + TLS, which
the loopback sim does not do. itchat is synchronous (requests + daemon threads): every blocking
call runs in `trio.to_thread` under a short `fail_after`, abandoned if it overruns.
"""

from __future__ import annotations

import hashlib
import html
import io
import logging
import threading
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import itchat
import pytest
import trio
import urllib3
from itchat.content import PICTURE, TEXT
from PIL import Image
from requests.adapters import HTTPAdapter

from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig

# itchat 1.3.10 starts its threads with the old setDaemon(); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")

STEP = 8  # seconds any single itchat call may take before the test fails
SPECIAL = {"filehelper", "weixin"}  # no '@' UserName: itchat keeps them out of its friends


class AbsoluteFormTransport(HTTPAdapter):
    """requests adapter: send every URL, http or https, to the sim as an absolute-form target.

    The Host header and target keep the real WeChat host name, so the sim serves in named mode;
    no TLS is spoken (the sim is plain HTTP on loopback).
    """

    def __init__(self, sim_url: str) -> None:
        super().__init__()
        parts = urlsplit(sim_url)
        self._pool = urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=8)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        return self._pool

    def cert_verify(self, conn, url, verify, cert) -> None:
        """No TLS on the loopback leg, so no certificate to check."""

    def request_url(self, request, proxies) -> str:
        return request.url  # the whole URL: absolute form

    def close(self) -> None:
        self._pool.close()
        super().close()


async def blocking(fn, *args):
    """Run a blocking itchat call in a thread; fail (and abandon the thread) after STEP s."""
    with trio.fail_after(STEP):
        return await trio.to_thread.run_sync(lambda: fn(*args), abandon_on_cancel=True)


def jpeg(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "JPEG")
    return out.getvalue()


class Inbox:
    """What itchat's registered handlers saw, handed over from its reply thread to trio."""

    def __init__(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self.send, self.receive = trio.open_memory_channel[dict](64)

    def handler(self, msg) -> str | None:
        trio.from_thread.run_sync(self.send.send_nowait, dict(msg), trio_token=self.token)
        if msg["Type"] == TEXT and msg["Text"].startswith("ping "):
            return "pong " + msg["Text"][5:]  # itchat sends a handler's answer back
        return None

    async def next(self, pred) -> dict:
        with trio.fail_after(STEP):
            async for msg in self.receive:
                if pred(msg):
                    return msg
        raise AssertionError("inbox closed")


def check_hosts(sim, mode: str) -> None:
    """Every call reached the sim on the host its role lives on, and none was refused."""
    seen = {(r.host, r.path.rsplit("/", 1)[-1]) for r in sim.world.requests}
    assert all(r.status < 400 for r in sim.world.requests), [
        (r.host, r.path, r.status) for r in sim.world.requests if r.status >= 400
    ]
    if mode == "direct":
        assert {host for host, _ in seen} == {urlsplit(sim.base_url).netloc}
        return
    login_hosts = {host for host, cgi in seen if cgi in ("jslogin", "login")}
    assert login_hosts == {"login.weixin.qq.com"}  # itchat's hard-coded QR host
    # subsets: a session logged out at once may end before its receive loop's first call
    assert {host for host, cgi in seen if cgi == "synccheck"} <= {f"webpush.{mode}"}
    assert {host for host, cgi in seen if cgi == "webwxsync"} <= {mode}
    assert {host for host, cgi in seen if cgi == "webwxinit"} == {mode}
    assert {host for host, cgi in seen if cgi == "webwxuploadmedia"} <= {f"file.{mode}"}


@pytest.fixture(params=["direct", "wx.qq.com", "wx2.qq.com"])
async def itchat_session(request, monkeypatch, tmp_path, caplog):
    """(sim, core, inbox): a logged-in itchat Core (its receive and reply threads running).

    "direct": BASE_URL is the sim's address; otherwise itchat keeps its real BASE_URL and the
    account's main host is the parameter (wx2.qq.com exercises itchat's host switching).
    """
    mode = request.param
    # echo_sent: web sends come back through sync from "me" (the text test expects the echo)
    config = SimConfig(synccheck_hold=3, login_hold=5, auto_delay=0.05, echo_sent=True)
    async with open_sim(auto_confirm=True, config=config) as sim:
        # Python 3.9 removed HTMLParser.unescape, which itchat 1.3.10 (2018) calls on every
        # incoming text; put the stdlib function back (itchat-uos ships the same fix).
        monkeypatch.setattr(HTMLParser, "unescape", staticmethod(html.unescape), raising=False)
        core = itchat.new_instance()
        if mode == "direct":
            monkeypatch.setattr(itchat.config, "BASE_URL", sim.base_url)
        else:
            settings = {"main_host": mode}
            await control(sim, "POST", f"/sim/accounts/{sim.accounts[0]}/settings", json=settings)
            adapter = AbsoluteFormTransport(sim.base_url)
            core.s.mount("http://", adapter)
            core.s.mount("https://", adapter)
        inbox = Inbox()
        core.msg_register([TEXT, PICTURE])(inbox.handler)
        core.exited = threading.Event()
        caplog.set_level(logging.INFO, logger="itchat")
        try:
            await blocking(
                lambda: core.login(
                    picDir=str(tmp_path / "QR.png"),
                    qrCallback=lambda **_: None,  # no QR window: the sim's phone confirms
                    loginCallback=lambda: None,  # (default would clear the terminal)
                    exitCallback=core.exited.set,
                )
            )
            core.run(blockThread=False)
            yield sim, core, inbox
            if core.alive:
                await blocking(core.logout)
            # itchat's receive loop ends on its next synccheck (the session is gone)
            await blocking(core.exited.wait, STEP - 1)
            assert core.exited.is_set(), "itchat's receive loop did not end"
            check_hosts(sim, mode)
            # a client stuck on a refused key spins synccheck -> webwxsync; itchat must not
            syncs = [r for r in sim.world.requests if r.path.endswith("/webwxsync")]
            assert len(syncs) < 10, f"{len(syncs)} webwxsync calls"
        finally:
            core.alive = core.isLogging = False  # stops itchat's loops if the test failed
            core.s.close()
        errors = [r for r in caplog.records if r.name == "itchat" and r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]


async def control(sim, method: str, path: str, **kw):
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as client:
        r = await client.request(method, path, **kw)
    assert r.status_code == 200, r.text
    return r.json()


async def test_itchat_logs_in_and_lists_the_worlds_contacts(itchat_session):
    sim, core, _ = itchat_session
    alice = sim.accounts[0]
    account = await control(sim, "GET", f"/sim/accounts/{alice}")
    assert account["logged_in"]
    assert core.storageClass.nickName == account["nickname"] == "Alice"
    assert core.loginInfo["wxuin"] == str(account["uin"])
    if urlsplit(core.loginInfo["url"]).hostname != "127.0.0.1":  # named: real host names
        main = account["main_host"]
        assert core.loginInfo["url"] == f"https://{main}/cgi-bin/mmwebwx-bin"
        assert core.loginInfo["syncUrl"] == f"https://webpush.{main}/cgi-bin/mmwebwx-bin"

    friends = await blocking(core.get_friends, True)  # webwxgetcontact again
    assert friends[0]["UserName"] == core.storageClass.userName  # itchat puts self first
    world_friends = [f for f in account["friends"] if f["verify_flag"] & 8 == 0]
    assert sorted(f["NickName"] for f in friends[1:]) == sorted(
        f["nickname"] for f in world_friends if f["wxid"] not in SPECIAL
    )
    remarks = {f["NickName"]: f["RemarkName"] for f in friends[1:]}
    assert remarks["Bob"] == "Bobby"
    mps = [f for f in account["friends"] if f["verify_flag"] & 8 and f["wxid"] not in SPECIAL]
    assert sorted(m["NickName"] for m in core.get_mps()) == sorted(m["nickname"] for m in mps)

    group = account["groups"][0]
    room = (await blocking(core.search_chatrooms, group["nickname"]))[0]
    room = await blocking(core.update_chatroom, room["UserName"])  # webwxbatchgetcontact
    # a member who is your friend shows under your remark for them (web-protocol.md 5.5)
    remark = {f["wxid"]: f["remark"] for f in account["friends"] if f["remark"]}
    assert sorted(m["NickName"] for m in room["MemberList"]) == sorted(
        remark.get(m["wxid"], m["nickname"]) for m in group["members"]
    )


async def test_itchat_receives_and_sends_text(itchat_session):
    sim, core, inbox = itchat_session
    alice, bob = sim.accounts[:2]
    me = core.storageClass.userName

    sent = await control(
        sim, "POST", f"/sim/accounts/{alice}/messages",
        json={"from": bob, "type": "text", "content": "ping hello itchat"},
    )  # fmt: skip
    msg = await inbox.next(lambda m: m["FromUserName"] != me)
    assert (msg["Type"], msg["Text"], msg["MsgId"]) == (TEXT, "ping hello itchat", sent["msg_id"])
    assert msg["User"]["NickName"] == "Bob"
    bob_name = msg["FromUserName"]

    # the handler's answer went out through webwxsendmsg; the echo comes back from "me"
    echo = await inbox.next(lambda m: m["FromUserName"] == me)
    assert (echo["ToUserName"], echo["Text"]) == (bob_name, "pong hello itchat")

    r = await blocking(core.send, "hi from itchat", bob_name)
    assert r["BaseResponse"]["Ret"] == 0, r
    outbox = await control(sim, "GET", f"/sim/accounts/{alice}/sent")
    assert [(e["to"], e["type"], e["content"]) for e in outbox] == [
        (bob, "text", "pong hello itchat"),
        (bob, "text", "hi from itchat"),
    ]
    assert outbox[1]["msg_id"] == r["MsgID"]


async def test_itchat_receives_and_sends_an_image(itchat_session, tmp_path):
    sim, core, inbox = itchat_session
    alice, bob = sim.accounts[:2]
    me = core.storageClass.userName

    sent = await control(
        sim, "POST", f"/sim/accounts/{alice}/messages", json={"from": bob, "type": "image"}
    )
    msg = await inbox.next(lambda m: m["Type"] == PICTURE and m["FromUserName"] != me)
    assert msg["MsgId"] == sent["msg_id"]
    picture = await blocking(msg["Text"])  # itchat's download_fn: webwxgetmsgimg
    assert picture[:3] == b"\xff\xd8\xff"  # a real JPEG

    data = jpeg((200, 30, 30))
    path = tmp_path / "red.jpg"
    path.write_bytes(data)
    r = await blocking(core.send_image, str(path), msg["FromUserName"])  # upload + send
    assert r["BaseResponse"]["Ret"] == 0, r
    (entry,) = await control(sim, "GET", f"/sim/accounts/{alice}/sent")
    assert (entry["to"], entry["type"], entry["msg_id"]) == (bob, "image", r["MsgID"])
    assert entry["media"]["md5"] == hashlib.md5(data).hexdigest()
    async with httpx.AsyncClient(base_url=sim.base_url) as client:
        got = await client.get(f"/sim/accounts/{alice}/sent/{entry['msg_id']}/media")
    assert got.content == data


async def settled(sim) -> None:
    """Until itchat's receive thread, done with its first webwxsync (the 51 recent-chat list,
    whose handling fetches contacts), waits again on a held synccheck. Logging out before that
    makes itchat's own thread crash on the refused webwxbatchgetcontact (an itchat race)."""
    session = sim.world.live_sessions(sim.accounts[0])[0]
    with trio.fail_after(STEP):
        while not (  # noqa: ASYNC110 (polls state in another thread and the server)
            any(r.path.endswith("/webwxsync") for r in sim.world.requests)
            and session.changed._event.statistics().tasks_waiting
        ):
            await trio.sleep(0.01)


async def test_itchat_logs_out(itchat_session):
    sim, core, _ = itchat_session
    alice = sim.accounts[0]
    await settled(sim)
    await blocking(core.logout)
    assert (await control(sim, "GET", f"/sim/accounts/{alice}"))["logged_in"] is False
    # itchat's receive loop notices on its pending synccheck and runs its exit callback
    await blocking(core.exited.wait, STEP - 1)
    assert core.exited.is_set()
    sessions = await control(sim, "GET", "/sim/sessions")
    assert not any(s["alive"] for s in sessions)


async def test_itchat_hot_reload_resumes_the_session_then_push_logs_in(
    monkeypatch, tmp_path, caplog
):
    """`auto_login(hotReload=True)`: a restarted itchat resumes the live session from its
    pickle (one webwxsync probe, no QR); after the phone ends the session, the next start
    falls back to push login (`webwxpushloginurl?uin=`, confirmed on the phone)."""
    config = SimConfig(synccheck_hold=1, login_hold=5, auto_delay=0.05)
    async with open_sim(auto_confirm=True, config=config) as sim:
        monkeypatch.setattr(HTMLParser, "unescape", staticmethod(html.unescape), raising=False)
        monkeypatch.setattr(itchat.config, "BASE_URL", sim.base_url)  # auto_login probes it
        caplog.set_level(logging.INFO, logger="itchat")
        alice, bob = sim.accounts[:2]
        status = str(tmp_path / "itchat.pkl")

        async def start():
            core, inbox = itchat.new_instance(), Inbox()
            core.msg_register(TEXT)(inbox.handler)
            core.exited = threading.Event()
            await blocking(
                lambda: core.auto_login(
                    hotReload=True,
                    statusStorageDir=status,
                    qrCallback=lambda **_: None,
                    loginCallback=lambda: None,
                    exitCallback=core.exited.set,
                )
            )
            core.run(blockThread=False)
            return core, inbox

        async def receives(core, inbox, text: str, *, redelivered: tuple[str, ...] = ()):
            body = {"from": bob, "type": "text", "content": text}
            await control(sim, "POST", f"/sim/accounts/{alice}/messages", json=body)
            for expected in (*redelivered, text):
                msg = await inbox.next(lambda m: m["FromUserName"] != core.storageClass.userName)
                assert msg["Text"] == expected

        cores = []
        try:
            first, inbox = await start()
            cores.append(first)
            await receives(first, inbox, "one")
            first.alive = False  # the process "dies" without logging out
            await blocking(first.exited.wait, STEP - 1)
            assert first.exited.is_set()

            second, inbox = await start()  # resumes: no new login
            cores.append(second)
            assert [login["push"] for login in await control(sim, "GET", "/sim/logins")] == [False]
            # itchat pickled its SyncKey at login only: the stale key re-delivers "one" (12.2)
            await receives(second, inbox, "two", redelivered=("one",))

            await control(sim, "POST", f"/sim/accounts/{alice}/logout", json={"retcode": 1101})
            await blocking(second.exited.wait, STEP - 1)  # synccheck retcode 1101 ends it
            assert second.exited.is_set()

            third, inbox = await start()  # the probe fails: push login with the saved wxuin
            cores.append(third)
            logins = await control(sim, "GET", "/sim/logins")
            assert [(lg["push"], lg["account"]) for lg in logins] == [
                (False, alice),
                (True, alice),
            ]
            await receives(third, inbox, "three")
            await blocking(third.logout)
            await blocking(third.exited.wait, STEP - 1)
            assert third.exited.is_set()
        finally:
            for core in cores:
                core.alive = core.isLogging = False
                core.s.close()
        errors = [r for r in caplog.records if r.name == "itchat" and r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]
