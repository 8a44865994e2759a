"""The /sim/ control API, world files, the generator and the CLI."""

from __future__ import annotations

import json

import msgspec
import pytest
from sim_webclient import ALICE

from wechat_sim import worldgen


async def test_accounts_listing_and_detail(web, http, sim):
    accounts = (await http.get(sim.base_url + "/sim/accounts")).json()
    assert accounts == [
        {"wxid": "wxid_alice0000000001", "nickname": "Alice", "logged_in": False},
        {"wxid": "wxid_bob000000000002", "nickname": "Bob", "logged_in": False},
    ]
    detail = (await http.get(f"{sim.base_url}/sim/accounts/{ALICE}")).json()
    friends = {f["wxid"]: f for f in detail["friends"]}
    assert friends["filehelper"]["nickname"] == "文件传输助手"
    assert friends["gh_0123456789ab"]["verify_flag"] & 8
    assert friends["wxid_bob000000000002"]["remark"] == "Bobby"
    group = next(g for g in detail["groups"] if g["wxid"] == "1234567890@chatroom")
    assert group["nickname"] == "测试群" and len(group["members"]) == 5
    assert {"wxid", "nickname"} <= set(group["members"][0])


async def test_control_errors_are_clear_json(http, sim):
    base = sim.base_url + "/sim"
    r = await http.get(f"{base}/accounts/wxid_nobody")
    assert r.status_code == 404 and "wxid_nobody" in r.json()["error"]
    r = await http.post(
        f"{base}/accounts/{ALICE}/messages", json={"from": "wxid_carol0000000001", "txt": "typo"}
    )
    assert r.status_code == 400 and "txt" in r.json()["error"]
    r = await http.post(f"{base}/accounts/{ALICE}/messages", content=b"{not json")
    assert r.status_code == 400 and "error" in r.json()
    r = await http.post(
        f"{base}/accounts/{ALICE}/messages",
        json={"from": "wxid_carol0000000001", "type": "hologram"},
    )
    assert r.status_code == 400 and "hologram" in r.json()["error"]
    r = await http.post(
        f"{base}/accounts/{ALICE}/messages",
        json={"from": "wxid_erin00000000003", "group": "2345678901@chatroom"},
    )
    assert r.status_code == 400  # Erin is not in that group
    r = await http.post(f"{base}/accounts/{ALICE}/logout", json={"retcode": 1})
    assert r.status_code == 400
    r = await http.get(f"{base}/accounts/{ALICE}/messages")
    assert r.status_code == 405
    assert (await http.get(f"{base}/nothing")).status_code == 404
    r = await http.post(f"{base}/logins/nope==/confirm")
    assert r.status_code == 400 and "nope" in r.json()["error"]


def test_generator_is_deterministic_for_a_seed():
    a = worldgen.generate_spec(friends=30, groups=4, members=12, seed=7)
    b = worldgen.generate_spec(friends=30, groups=4, members=12, seed=7)
    c = worldgen.generate_spec(friends=30, groups=4, members=12, seed=8)
    assert msgspec.json.encode(a) == msgspec.json.encode(b) != msgspec.json.encode(c)
    world = worldgen.build(a)
    for account in world.accounts.values():
        assert len(account.friends) == 30 + 3  # + filehelper, weixin, an official account
        assert "filehelper" in account.friends
        assert any(world.people[w].verify_flag & 8 for w in account.friends if w != "weixin")
        groups = world.groups_of(account.wxid)
        assert len(groups) == 4 and all(len(g.members) == 12 for g in groups)
        assert all(g.wxid.endswith("@chatroom") for g in groups)


def test_world_file_round_trip_and_validation(tmp_path):
    spec = worldgen.default_spec()
    path = tmp_path / "world.json"
    path.write_bytes(msgspec.json.encode(spec))
    world = worldgen.load(path)
    assert list(world.accounts) == ["wxid_alice0000000001", "wxid_bob000000000002"]
    bad = json.loads(path.read_text())
    bad["accounts"][0]["friends"].append({"wxid": "wxid_ghost"})
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="wxid_ghost"):
        worldgen.load(path)
    bad["accounts"][0]["frends"] = []
    path.write_text(json.dumps(bad))
    with pytest.raises(msgspec.ValidationError):
        worldgen.load(path)


def test_toml_world_file(tmp_path):
    path = tmp_path / "world.toml"
    path.write_text(
        """
[[people]]
wxid = "wxid_zed"
nickname = "Zed"

[[accounts]]
wxid = "wxid_me"
nickname = "Me"
main_host = "wx2.qq.com"
friends = [{wxid = "filehelper"}, {wxid = "wxid_zed", remark = "Z"}]

[[groups]]
wxid = "1111111111@chatroom"
topic = "T"
owner = "wxid_me"
members = ["wxid_me", "wxid_zed"]
""",
        "utf-8",
    )
    world = worldgen.load(path)
    account = world.accounts["wxid_me"]
    assert account.main_host == "wx2.qq.com" and account.friends["wxid_zed"].remark == "Z"
    assert world.groups_of("wxid_me")[0].topic == "T"


def test_cli_world_prints_a_loadable_world_file(tmp_path):
    from click.testing import CliRunner

    from wechat_sim.cli import main

    result = CliRunner().invoke(
        main, ["world", "--friends", "4", "--groups", "1", "--members", "3", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "w.json"
    path.write_text(result.output)
    world = worldgen.load(path)
    assert len(world.accounts) == 2 and all(len(a.friends) == 7 for a in world.accounts.values())


async def test_config_and_account_settings_at_run_time(http, sim):
    base = sim.base_url + "/sim"
    r = await http.post(f"{base}/config", json={"synccheck_hold": 2, "auto_confirm": True})
    assert r.status_code == 200 and r.json()["synccheck_hold"] == 2.0
    assert sim.world.config.synccheck_hold == 2.0 and sim.world.config.auto_confirm is True
    assert (await http.get(f"{base}/config")).json()["auto_confirm"] is True
    assert (await http.post(f"{base}/config", json={"nope": 1})).status_code == 400
    assert (await http.post(f"{base}/config", json={"auto_confirm": "yes"})).status_code == 400
    r = await http.post(
        f"{base}/accounts/{ALICE}/settings", json={"web_barred": True, "main_host": "wx2.qq.com"}
    )
    assert r.json() == {"wxid": ALICE, "web_barred": True, "main_host": "wx2.qq.com"}
    assert (
        await http.post(f"{base}/accounts/{ALICE}/settings", json={"main_host": "evil.com"})
    ).status_code == 400


async def test_request_log_shows_what_a_client_sent(web, http, sim):
    await web.qr_login(ALICE)
    await web.init()
    seen = (await http.get(sim.base_url + "/sim/requests")).json()
    paths = [r["path"].rsplit("/", 1)[-1] for r in seen]
    assert paths == ["jslogin", "login", "webwxnewloginpage", "webwxinit"]
    assert (
        seen[-1]["method"] == "POST"
        and seen[-1]["status"] == 200
        and "pass_ticket=" in seen[-1]["query"]
    )
    only = (
        await http.get(sim.base_url + "/sim/requests", params={"path": "login", "limit": 1})
    ).json()
    assert [r["path"] for r in only] == ["/cgi-bin/mmwebwx-bin/webwxnewloginpage"]
