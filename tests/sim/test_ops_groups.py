"""Group operations, remarks and pins (web-protocol.md 9.1-9.3): each changes the world and
shows up in sync like the real service (ModContactList with the full group, 10000 notices,
DelContactList) and in the control API's view of the account.
"""

from __future__ import annotations

import httpx
import pytest
from sim_webclient import ALICE, BOB, WebClient

from wechat_sim import worldgen
from wechat_sim.testing import open_sim

CAROL = "wxid_carol0000000001"
DAVE = "wxid_dave00000000002"
ERIN = "wxid_erin00000000003"
TEAM = "1234567890@chatroom"  # 测试群, owner Alice, with Bob, Carol, Dave, Erin
FAMILY = "2345678901@chatroom"  # owner Carol, with Alice and Dave


@pytest.fixture
async def alice(web):
    await web.qr_login(ALICE)
    assert (await web.init())["BaseResponse"]["Ret"] == 0
    web.names = {c["NickName"]: c["UserName"] for c in await web.all_contacts()}
    await web.sync()  # start from an empty log
    return web


async def account(web, wxid=ALICE) -> dict:
    return (await web.control("GET", f"/sim/accounts/{wxid}")).json()


def notices(data: dict) -> list[str]:
    return [m["Content"] for m in data["AddMsgList"] if m["MsgType"] == 10000]


def group_in(data: dict, username: str) -> dict:
    [group] = [c for c in data["ModContactList"] if c["UserName"] == username]
    assert group["MemberCount"] == len(group["MemberList"])
    return group


async def update(web, fun: str, group: str, **fields) -> dict:
    body = {"BaseRequest": web.base_request(), "ChatRoomName": group, **fields}
    return await web.post("webwxupdatechatroom", body, fun=fun)


async def member_names(web, group_username: str) -> dict[str, str]:
    [group] = (await web.batch([group_username]))["ContactList"]
    return {m["NickName"]: m["UserName"] for m in group["MemberList"]}


async def test_create_chatroom(alice):
    n = alice.names
    answer = await alice.post(
        "webwxcreatechatroom",
        {"BaseRequest": alice.base_request(), "MemberCount": 2,
         "MemberList": [{"UserName": n["Carol"]}, {"UserName": n["Dave 大卫"]}], "Topic": "新群"},
        r=1,
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] == 0
    assert answer["ChatRoomName"].startswith("@@") and answer["Topic"] == "新群"
    assert answer["MemberCount"] == 3 and answer["BlackList"] == ""
    assert all("MemberStatus" in m for m in answer["MemberList"])
    data = await alice.sync()
    group = group_in(data, answer["ChatRoomName"])
    assert group["NickName"] == "新群" and group["ChatRoomOwner"] == alice.creds.user["UserName"]
    assert notices(data) == ['你邀请"Carol、Dave 大卫"加入了群聊']
    [created] = [g for g in (await account(alice))["groups"] if g["nickname"] == "新群"]
    assert {m["wxid"] for m in created["members"]} == {ALICE, CAROL, DAVE}
    assert created["owner"] == ALICE


async def test_create_chatroom_needs_friends(alice):
    erin = (await member_names(alice, alice.names["测试群"]))["Erin"]  # a member, not a friend
    answer = await alice.post(
        "webwxcreatechatroom",
        {"BaseRequest": alice.base_request(), "MemberCount": 2,
         "MemberList": [{"UserName": alice.names["Carol"]}, {"UserName": erin}], "Topic": ""},
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] != 0
    answer = await alice.post(
        "webwxcreatechatroom",
        {"BaseRequest": alice.base_request(), "MemberCount": 2,
         "MemberList": [{"UserName": alice.names["Carol"]}, {"UserName": "filehelper"}]},
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] != 0
    assert len((await account(alice))["groups"]) == 2


async def test_addmember_shows_in_both_accounts(alice, sim, http):
    async with httpx.AsyncClient(timeout=60) as bob_http:
        bob = await WebClient(bob_http, sim.base_url).log_in(BOB)
        await bob.sync()
        family = alice.names["Family"]
        answer = await update(alice, "addmember", family, AddMemberList=alice.names["Bob"])
        assert answer["BaseResponse"]["Ret"] == 0
        assert [m["NickName"] for m in answer["MemberList"]] == ["Bobby"]
        data = await alice.sync()
        assert len(group_in(data, family)["MemberList"]) == 4
        assert notices(data) == ['你邀请"Bobby"加入了群聊']
        bob_data = await bob.sync()
        [bob_group] = [c for c in bob_data["ModContactList"] if c["NickName"] == "Family"]
        assert len(bob_group["MemberList"]) == 4
        [notice] = notices(bob_data)  # 7.6: '"A"邀请你加入了群聊' (+ the other members)
        assert notice.startswith('"Alice"邀请你')
    [fam] = [g for g in (await account(alice, BOB))["groups"] if g["wxid"] == FAMILY]
    assert BOB in {m["wxid"] for m in fam["members"]}


async def test_invitemember_and_the_addmember_size_limit(http):
    world = worldgen.generate(friends=60, groups=1, members=45, seed=3, accounts=1)
    async with open_sim(world) as sim:
        owner = sim.accounts[0]
        web = await WebClient(http, sim.base_url).log_in(owner)
        contacts = await web.all_contacts()
        [group] = [c for c in contacts if c["UserName"].startswith("@@")]
        members = set(world.groups[next(iter(world.groups))].members)
        session = world.sessions[-1]
        outsider = next(
            c["UserName"] for c in contacts
            if world.resolve(session, c["UserName"]).startswith("wxid_")
            and world.resolve(session, c["UserName"]) not in members
        )  # fmt: skip
        refused = await update(web, "addmember", group["UserName"], AddMemberList=outsider)
        assert refused["BaseResponse"]["Ret"] != 0
        invited = await update(web, "invitemember", group["UserName"], InviteMemberList=outsider)
        assert invited["BaseResponse"]["Ret"] == 0 and invited["MemberList"] == []
        data = await web.sync()
        assert len(group_in(data, group["UserName"])["MemberList"]) == 46


async def test_delmember_by_owner(alice, sim):
    team = alice.names["测试群"]
    dave = (await member_names(alice, team))["Dave 大卫"]
    answer = await update(alice, "delmember", team, DelMemberList=dave)
    assert answer["BaseResponse"]["Ret"] == 0
    data = await alice.sync()
    group = group_in(data, team)
    assert (
        dave not in {m["UserName"] for m in group["MemberList"]} and len(group["MemberList"]) == 4
    )
    assert notices(data) == ['你将"Dave 大卫"移出了群聊']
    [g] = [g for g in (await account(alice))["groups"] if g["wxid"] == TEAM]
    assert DAVE not in {m["wxid"] for m in g["members"]}


async def test_delmember_and_modtopic_only_for_the_owner(alice):
    family = alice.names["Family"]
    dave = (await member_names(alice, family))["Dave 大卫"]
    assert (await update(alice, "delmember", family, DelMemberList=dave))["BaseResponse"][
        "Ret"
    ] == 1
    assert (await update(alice, "modtopic", family, NewTopic="x"))["BaseResponse"]["Ret"] == 1
    assert (await alice.sync())["ModContactCount"] == 0


async def test_modtopic(alice):
    team = alice.names["测试群"]
    answer = await update(alice, "modtopic", team, NewTopic="改名了")
    assert answer["BaseResponse"]["Ret"] == 0
    data = await alice.sync()
    assert group_in(data, team)["NickName"] == "改名了"
    assert notices(data) == ["你修改群名为“改名了”"]


async def test_group_operations_can_be_rate_limited(alice):
    """Strict 13: too many group operations in the interval -> Ret 1205, nothing changed."""
    r = await alice.control(
        "POST", "/sim/rate_limits", {"endpoint": "webwxupdatechatroom", "max": 1, "per": 60}
    )
    assert r.status_code == 200
    team = alice.names["测试群"]
    assert (await update(alice, "modtopic", team, NewTopic="一"))["BaseResponse"]["Ret"] == 0
    refused = await update(alice, "modtopic", team, NewTopic="二")
    assert refused["BaseResponse"]["Ret"] == 1205
    groups = {g["wxid"]: g for g in (await account(alice))["groups"]}
    assert groups[TEAM]["nickname"] == "一"


async def test_update_unknown_group_is_1201(alice):
    answer = await update(alice, "modtopic", "@@" + "0" * 64, NewTopic="x")
    assert answer["BaseResponse"]["Ret"] == 1201


async def test_remark_via_oplog(alice):
    answer = await alice.post(
        "webwxoplog",
        {"BaseRequest": alice.base_request(), "CmdId": 2, "RemarkName": "老戴",
         "UserName": alice.names["Dave 大卫"]},
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] == 0
    data = await alice.sync()
    [dave] = data["ModContactList"]
    assert dave["RemarkName"] == "老戴" and dave["UserName"] == alice.names["Dave 大卫"]
    friends = {f["wxid"]: f for f in (await account(alice))["friends"]}
    assert friends[DAVE]["remark"] == "老戴"
    erin = (await member_names(alice, alice.names["测试群"]))["Erin"]
    refused = await alice.post(
        "webwxoplog",
        {"BaseRequest": alice.base_request(), "CmdId": 2, "RemarkName": "E", "UserName": erin},
    )  # fmt: skip
    assert refused["BaseResponse"]["Ret"] != 0


async def test_stick_via_oplog(alice):
    async def op(name: str, on: int) -> dict:
        return await alice.post(
            "webwxoplog",
            {"BaseRequest": alice.base_request(), "CmdId": 3, "OP": on, "UserName": name},
        )

    assert (await op(alice.names["Dave 大卫"], 1))["BaseResponse"]["Ret"] == 0
    assert (await op(alice.names["Carol"], 0))["BaseResponse"]["Ret"] == 0
    flags = {c["NickName"]: c["ContactFlag"] for c in (await alice.sync())["ModContactList"]}
    assert flags["Dave 大卫"] & 2048 and not flags["Carol"] & 2048
    assert (await op(alice.names["测试群"], 1))["BaseResponse"]["Ret"] == 0
    [team] = (await alice.sync())["ModContactList"]
    assert team["UserName"] == alice.names["测试群"] and team["ContactFlag"] & 2048
    assert (await op(alice.names["测试群"], 0))["BaseResponse"]["Ret"] == 0
    assert not (await alice.sync())["ModContactList"][0]["ContactFlag"] & 2048
    assert (await op("@" + "1" * 64, 1))["BaseResponse"]["Ret"] != 0
