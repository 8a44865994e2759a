"""How a session ends (web-protocol.md 12.2, strict 4-5): a phone-side logout with its
retcode, webwxlogout, and credentials that do not name the live session."""

from __future__ import annotations

import httpx
import trio
from sim_webclient import ALICE, CGI, WebClient

from wechat_sim.testing import open_sim


async def test_forced_logout_ends_the_session(alice, sim):
    r = await alice.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": 1100})
    assert r.json() == {"ended": 1}
    assert await alice.synccheck() == ("1100", "0")
    assert (await alice.sync())["BaseResponse"]["Ret"] == 1100
    assert (await alice.init())["BaseResponse"]["Ret"] == 1100
    assert (await alice.control("GET", "/sim/accounts")).json()[0]["logged_in"] is False


async def test_forced_logout_wakes_a_waiting_synccheck(mock_clock):
    mock_clock.autojump_threshold = 0.05
    async with open_sim() as sim, httpx.AsyncClient(timeout=100) as http:
        web = await WebClient(http, sim.base_url).log_in(ALICE)
        seen = {}

        async def check():
            seen["answer"] = await web.synccheck()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(check)
            await trio.sleep(2)
            await web.control("POST", f"/sim/accounts/{ALICE}/logout", {"retcode": 1101})
        assert seen["answer"] == ("1101", "0")


async def test_webwxlogout_then_1101(alice, http, sim):
    c = alice.creds
    for t in (0, 1):
        await http.post(
            f"{sim.base_url}{CGI}webwxlogout?redirect=1&type={t}&skey={c.skey}",
            data={"sid": c.sid, "uin": c.uin},
        )
    assert await alice.synccheck() == ("1101", "0")


async def test_session_identity_is_checked(alice):
    good = alice.creds.skey
    alice.creds.skey = "@crypt_00000000_" + "0" * 32
    assert (await alice.sync())["BaseResponse"]["Ret"] == 1101
    alice.creds.skey = good
    pt = alice.creds.pass_ticket
    alice.creds.pass_ticket = "AAAA"
    assert (await alice.init())["BaseResponse"]["Ret"] == 1101
    alice.creds.pass_ticket = pt
    assert (await alice.init())["BaseResponse"]["Ret"] == 0


async def test_synccheck_checks_the_session_identity_too(alice, sim):
    """Strict 4: a synccheck whose sid/skey/uin do not name the live session answers 1101."""
    c = alice.creds
    good = (c.skey, c.sid, c.uin)
    for field, bad in (
        ("skey", "@crypt_00000000_" + "0" * 32),
        ("sid", "A" * 16),
        ("uin", str(sim.world.accounts["wxid_bob000000000002"].uin)),
    ):
        setattr(c, field, bad)
        assert await alice.synccheck() == ("1101", "0"), field
        c.skey, c.sid, c.uin = good
    await alice.statusnotify()
    assert await alice.synccheck() == ("0", "7")  # the live session itself is untouched
