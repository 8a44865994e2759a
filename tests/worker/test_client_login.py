"""Login against the simulator: QR, expiry, resume, push login, re-login, stop."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing

from openwx_worker.state import ClientState
from openwx_worker.testing import (
    is_event,
    running_client,
    running_worker,
    scan_and_confirm,
    sim_post,
    wait_item,
)
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


def _events(worker, name=None):
    items = worker.events.read_after(0, 100_000)
    return [i for i in items if getattr(i, "event", None) and (name is None or i.event == name)]


async def _state_file(worker, expected):
    """The state file once it says ``expected`` (it is written just after the change)."""
    with trio.fail_after(5):
        while True:
            state = json.loads(worker.state.files.state_path.read_bytes())
            if state["state"] == expected:
                return state
            await trio.sleep(0.01)


async def test_first_login_by_qr_reaches_running(tmp_path, autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    async with open_sim(auto_confirm=True) as sim:
        async with running_worker(sim, tmp_path) as worker:
            client = worker.client
            assert client.state is ClientState.running
            assert client.user is not None and client.user.id.startswith("@")
            assert client.contacts.friends, "friends loaded"
            changes = [tuple(e.params) for e in _events(worker, "state_change")]
            assert changes[:4] == [("init", "loading"), ("loading", "scaning"),
                                   ("scaning", "confirming"), ("confirming", "updating")]
            assert changes[-1] == ("updating", "running")
            assert [e.params for e in _events(worker, "login")] == [[1]]
            qr = _events(worker, "input_qrcode")
            assert qr and qr[0].params[0].endswith("mojo_weixin_qrcode_test.jpg")
            state = await _state_file(worker, "running")
            assert state["port"] == worker.port
            assert worker.state.files.cookie_path.exists()
            assert not worker.state.files.qrcode_path.exists()


async def test_qr_scanned_and_confirmed_by_hand(tmp_path, clock):
    async with open_sim() as sim, running_client(sim, tmp_path, wait=False) as h:
        await scan_and_confirm(sim, ALICE)
        with trio.fail_after(60):
            await h.client.wait_running()
        assert h.client.user.name == "Alice"
        assert h.client.contacts.first_friend(markname="Bobby") is not None
        assert {g.name for g in h.client.contacts.groups} >= {"测试群", "Family"}


async def test_qr_expiry_loop_then_give_up(tmp_path, clock):
    async with open_sim() as sim, running_client(sim, tmp_path, wait=False,
                                                 qrcode_count_max=3) as h:
        with trio.fail_after(3600):
            await h.client.wait_stopped()
        assert h.client.state is ClientState.stop
        assert len(_events(h, "input_qrcode")) == 3
        login = _events(h, "login")
        assert [e.params[0] for e in login] == [-1]
        assert "3" in login[0].params[1]
        assert _events(h, "stop")
        assert not h.state.files.qrcode_path.exists()


async def test_resume_after_restart_needs_no_qr(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim:
        async with running_client(sim, tmp_path) as h:
            first_user = h.client.user.id
        last = h.events.last_event_id  # the log outlives the process (SQLite)
        saved = json.loads(h.state.files.cookie_path.read_bytes())  # JSON, not Perl
        assert saved["credentials"]["uin"] and saved["credentials"]["sid"]
        assert {c["name"] for c in saved["cookies"]} >= {"wxuin", "wxsid"}
        assert not h.state.files.pid_path.exists()
        sim.world.config.auto_confirm = False  # a QR code would now hang the test
        async with running_client(sim, tmp_path) as h2:
            assert h2.client.user.id == first_user  # same session, same ids
            new = [e for e in h2.events.read_after(last, 1000) if getattr(e, "event", None)]
            assert [e.params for e in new if e.event == "login"] == [[0]]
            assert not [e for e in new if e.event == "input_qrcode"]
            changes = [tuple(e.params) for e in new if e.event == "state_change"]
            assert changes == [("init", "loading"), ("loading", "updating"),
                               ("updating", "running")]


@pytest.mark.parametrize("retcode", [1100, 1101, 1102])
async def test_forced_logout_relogs_in_by_push(tmp_path, clock, retcode):
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        old_user = h.client.user.id
        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/logout", {"retcode": retcode})
        ev = await wait_item(h, is_event("login"), after=start)
        assert ev.params == [1]
        with trio.fail_after(60):
            await h.client.wait_running()
        assert h.client.user.id != old_user  # a new session: new ids
        new = [e for e in h.events.read_after(start, 1000) if getattr(e, "event", None)]
        assert not [e for e in new if e.event == "input_qrcode"], "push login, no QR"
        assert ("running", "loading") in [tuple(e.params) for e in new
                                          if e.event == "state_change"]


async def test_stop_with_mobile_stops_on_1101(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim, running_client(
            sim, tmp_path, stop_with_mobile=True) as h:
        await sim_post(sim, f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
        with trio.fail_after(60):
            await h.client.wait_stopped()
        assert h.client.state is ClientState.stop


async def test_graceful_stop(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim:
        async with running_client(sim, tmp_path) as h:
            await h.client.stop()
            assert h.client.state is ClientState.stop
            assert _events(h, "stop")
            assert tuple(_events(h, "state_change")[-1].params) == ("running", "stop")
        files = h.state.files
        assert not files.pid_path.exists() and files.cookie_path.exists()
        assert json.loads(files.state_path.read_bytes())["state"] == "stop"


def _barred_world():
    from wechat_sim.worldgen import build, default_spec

    spec = default_spec()
    for account in spec.accounts:
        account.web_barred = True
    return build(spec)


async def test_refused_web_login_is_reported_and_stops(tmp_path, clock):
    """1203 (web login refused): one login[-1, WeChat's message], then stop (fixes H.10)."""
    async with open_sim(world=_barred_world(), auto_confirm=True) as sim, running_client(
            sim, tmp_path, wait=False) as h:
        with trio.fail_after(3600):
            await h.client.wait_stopped()
        logins = [e.params for e in _events(h, "login")]
        assert len(logins) == 1 and logins[0][0] == -1
        assert "网页微信" in logins[0][1]  # WeChat's own text
        assert len(_events(h, "input_qrcode")) == 1
        assert h.client.state is ClientState.stop


async def test_uos_login_passes_a_barred_account(tmp_path, clock):
    async with open_sim(world=_barred_world(), auto_confirm=True) as sim, running_client(
            sim, tmp_path, login_variant="uos") as h:
        assert h.client.state is ClientState.running
        assert [e.params for e in _events(h, "login")] == [[1]]


async def test_restart_with_dead_session_uses_push_login(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim:
        async with running_client(sim, tmp_path):
            pass
        await sim_post(sim, f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
        async with running_client(sim, tmp_path) as h:
            new = h.events.read_after(h.events.start_event_id, 1000)
            names = [getattr(e, "event", None) for e in new]
            assert "input_qrcode" not in names
            assert [e.params for e in new if getattr(e, "event", None) == "login"] == [[1]]
            changes = [tuple(e.params) for e in new if getattr(e, "event", None) == "state_change"]
            assert ("loading", "confirming") in changes


async def test_messages_while_stopped_arrive_after_resume(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim:
        async with running_client(sim, tmp_path) as h:
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": "wxid_carol0000000001", "content": "before"})
            await wait_item(h, lambda i: getattr(i, "content", None) == "before")
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": "wxid_carol0000000001", "content": "while down"})
        async with running_client(sim, tmp_path) as h2:
            start = h2.events.start_event_id
            await wait_item(h2, lambda i: getattr(i, "content", None) == "while down",
                            after=start)
            await trio.sleep(5)
            again = [i for i in h2.events.read_after(start, 1000)
                     if getattr(i, "content", None) == "before"]
            assert again == []  # already reported before the restart: not twice


def test_own_qr_rendering_is_a_jpeg_of_the_login_url():
    from openwx_worker.client_qrcode import render_qr_jpeg

    image = render_qr_jpeg("https://login.weixin.qq.com/l/abcdefgh==")
    assert image[:3] == b"\xff\xd8\xff" and len(image) > 500


async def test_event_order_of_a_qr_login(tmp_path, clock):
    """As Mojo::Weixin: input_qrcode, the state changes, login[1], then running."""
    async with open_sim(auto_confirm=True) as sim, running_client(sim, tmp_path) as h:
        names = [(e.event, e.params[1] if e.event == "state_change" else None)
                 for e in _events(h) if e.event in ("input_qrcode", "state_change", "login")]
        assert names == [
            ("state_change", "loading"), ("input_qrcode", None), ("state_change", "scaning"),
            ("state_change", "confirming"), ("state_change", "updating"), ("login", None),
            ("state_change", "running")]


async def test_keep_cookie_off_writes_no_cookie_file(tmp_path, clock):
    async with open_sim(auto_confirm=True) as sim:
        async with running_client(sim, tmp_path, keep_cookie=False) as h:
            assert h.client.state is ClientState.running
        assert not h.state.files.cookie_path.exists()


async def test_stop_while_waiting_for_the_scan(tmp_path, clock):
    async with open_sim() as sim:
        async with running_client(sim, tmp_path, wait=False) as h:
            await wait_item(h, is_event("input_qrcode"))
            assert h.state.files.qrcode_path.exists()
            await h.client.stop()
            assert h.client.state is ClientState.stop
            assert tuple(_events(h, "state_change")[-1].params) == ("scaning", "stop")
        assert not h.state.files.qrcode_path.exists()
        assert not h.state.files.pid_path.exists()


async def test_qr_shown_in_terminal_and_announced_with_its_image(tmp_path, clock, capsys):
    """The QR code is printed on stderr (segno) for exactly the uuid being polled, and
    input_qrcode carries the saved file's path and its bytes as MIME base64."""
    import base64
    import io

    import segno

    from openwx_worker.testing import wait_for_login
    from openwx_worker.webwx.login import qr_text

    async with open_sim() as sim, running_client(sim, tmp_path, wait=False,
                                                 qrcode_terminal=True) as h:
        ev = await wait_item(h, is_event("input_qrcode"))
        uuid = await wait_for_login(sim)
        path, data = ev.params
        image = h.state.files.qrcode_path.read_bytes()
        assert path == str(h.state.files.qrcode_path) and image[:3] == b"\xff\xd8\xff"
        assert base64.decodebytes(data.encode()) == image
        assert all(len(line) <= 76 for line in data.splitlines())
        expected = io.StringIO()
        segno.make(qr_text(uuid), error="l").terminal(out=expected, compact=True)
        assert expected.getvalue() in capsys.readouterr().err


async def test_give_up_is_one_clear_log_line(tmp_path, clock, caplog):
    caplog.set_level("INFO", logger="openwx_worker.client_login")
    async with open_sim() as sim, running_client(sim, tmp_path, wait=False,
                                                 qrcode_count_max=2) as h:
        with trio.fail_after(3600):
            await h.client.wait_stopped()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["giving up login: the QR code expired 2 times without a login "
                      "(qrcode_count_max=2)"]


async def test_push_login_not_confirmed_falls_back_to_qr(tmp_path, clock):
    """resume (dead) → push (the phone never confirms) → QR: login[1] after a scan."""
    async with open_sim(auto_confirm=True) as sim:
        async with running_client(sim, tmp_path):
            pass
        await sim_post(sim, f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
        sim.world.config.auto_confirm = False
        async with running_client(sim, tmp_path, wait=False) as h:
            start = h.events.start_event_id
            await wait_item(h, is_event("input_qrcode"), after=start)
            await scan_and_confirm(sim, ALICE)
            with trio.fail_after(600):
                await h.client.wait_running()
            new = [e for e in h.events.read_after(start, 1000) if getattr(e, "event", None)]
            assert [e.params for e in new if e.event == "login"] == [[1]]
            changes = [tuple(e.params) for e in new if e.event == "state_change"]
            assert changes == [("init", "loading"), ("loading", "updating"),  # resume fails
                               ("updating", "loading"), ("loading", "confirming"),  # push
                               ("confirming", "scaning"), ("scaning", "confirming"),  # QR
                               ("confirming", "updating"), ("updating", "running")]


async def test_qr_expiry_count_restarts_for_each_login(tmp_path, clock):
    """Reference H.10: Mojo::Weixin counted expirations over the process lifetime, so a
    worker that had needed a few QR codes once gave up at a later re-login."""
    async with open_sim() as sim, running_client(sim, tmp_path, wait=False,
                                                 qrcode_count_max=2) as h:
        for round_ in range(2):
            start = h.events.last_event_id
            first = await wait_item(h, is_event("input_qrcode"), after=start)
            await wait_item(h, is_event("input_qrcode"), after=first.event_id)  # 1 expired
            await scan_and_confirm(sim, ALICE)
            with trio.fail_after(600):
                await h.client.wait_running()
            if round_ == 0:  # the phone ends the session; push is not confirmed: QR again
                await sim_post(sim, f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
                await wait_item(h, lambda i: getattr(i, "event", None) == "state_change"
                                and i.params[1] == "loading", after=start)
        assert [e.params for e in _events(h, "login")] == [[1], [1]]
        assert h.client.state is ClientState.running
