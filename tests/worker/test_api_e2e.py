"""The Openwx API end to end: a real worker logged in to the simulator, real HTTP.

Every test checks the answer *and* the effect on the simulated WeChat through its
/sim/ control API (the message arrived, the group was renamed, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio

from openwx_worker.state import ClientState
from openwx_worker.testing import running_worker, scan_and_confirm, sim_post, wait_item
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
BOB = "wxid_bob000000000002"
CAROL = "wxid_carol0000000001"
DAVE = "wxid_dave00000000002"
GROUP = "1234567890@chatroom"


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.05
    return autojump_clock


class Api:
    """The worker's API and the simulator's control API, side by side."""

    def __init__(self, sim: Any, worker: Any, http: httpx.AsyncClient, sim_http: httpx.AsyncClient):
        self.sim, self.worker, self.http, self.sim_http = sim, worker, http, sim_http

    async def call(self, name: str, **params: Any) -> Any:
        r = await self.http.get(f"/openwx/{name}", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def friend_id(self, **criteria: str) -> str:
        friend = self.worker.client.contacts.first_friend(**criteria)
        assert friend is not None, criteria
        return friend.id

    def group_id(self, **criteria: str) -> str:
        group = self.worker.client.contacts.first_group(**criteria)
        assert group is not None, criteria
        return group.id

    async def sent(self) -> list[dict]:
        """What Alice's web session sent, as the simulator saw it."""
        return (await self.sim_http.get(f"/sim/accounts/{ALICE}/sent")).json()

    async def account(self) -> dict:
        return (await self.sim_http.get(f"/sim/accounts/{ALICE}")).json()

    async def message_from(self, sender: str, content: str, group: str | None = None) -> str:
        body = {"from": sender, "content": content}
        if group:
            body["group"] = group
        return (await sim_post(self.sim, f"/sim/accounts/{ALICE}/messages", body))["msg_id"]


@asynccontextmanager
async def api_on_sim(tmp_path, **config: Any) -> AsyncIterator[Api]:
    async with open_sim(auto_confirm=True) as sim, running_worker(sim, tmp_path, **config) as w:
        base = f"http://127.0.0.1:{w.port}"
        async with httpx.AsyncClient(base_url=base, timeout=None) as http, \
                httpx.AsyncClient(base_url=sim.base_url, timeout=None) as sim_http:  # fmt: skip
            yield Api(sim, w, http, sim_http)


async def wait_sent(api: Api, predicate, seconds: float = 30) -> dict:
    with trio.fail_after(seconds):
        while True:
            for item in await api.sent():
                if predicate(item):
                    return item
            await trio.sleep(0.05)


# --------------------------------------------------------------------------- text sends


async def test_send_friend_and_group_text(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol = api.friend_id(name="Carol")
        r = await api.call("send_friend_message", id=carol, content="你好 Carol")
        assert r["code"] == 0 and r["status"] == "发送成功"
        assert r["id"] == f"{r['msg_id']}:{carol}"
        sent = await api.sent()
        assert [(s["to"], s["content"]) for s in sent] == [(CAROL, "你好 Carol")]
        assert str(sent[0]["msg_id"]) == r["msg_id"]

        # Look-up by remark name (Bobby) and by markname+displayname together (AND).
        r = await api.call("send_friend_message", markname="Bobby", content="hi Bob")
        assert r["code"] == 0
        r = await api.call("send_friend_message", markname="Bobby", displayname="Bobby",
                           content="again")
        assert r["code"] == 0
        assert [s["to"] for s in await api.sent()][-2:] == [BOB, BOB]

        r = (await api.http.post("/openwx/send_friend_message",
                                 json={"account": "", "displayname": "Dave 大卫",
                                       "content": "from a JSON body"})).json()
        assert r["code"] == 0 and (await api.sent())[-1]["to"] == DAVE
        r = await api.call("send_group_message", displayname="测试群", content="hello group")
        assert r["code"] == 0 and r["id"].endswith(api.group_id(displayname="测试群"))
        assert (await api.sent())[-1]["to"] == GROUP

        # Failures: not found (with Mojo's id: null), nothing to send.
        assert await api.call("send_friend_message", account="nobody", content="x") == {
            "code": 100, "status": "object not found", "id": None}
        assert await api.call("send_group_message", displayname="nope", content="x") == {
            "code": 100, "status": "object not found", "id": None}
        r = await api.call("send_friend_message", id=carol)
        assert r["code"] == 400 and "content" in r["status"]
        assert len(await api.sent()) == 5


async def test_async_send_and_broadcast_answer_at_once(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol = api.friend_id(name="Carol")
        r = await api.call("send_friend_message", id=carol, content="later", **{"async": "1"})
        assert r == {"code": 0, "status": "request already in execution"}
        await wait_sent(api, lambda s: s["content"] == "later" and s["to"] == CAROL)

        friends = api.worker.client.contacts.friends
        r = await api.call("send_friend_message", id="@all", content="to everyone")
        assert r == {"code": 0, "id": 0, "status": "request already executed",
                     "count": len(friends)}
        expected = {f["wxid"] for f in (await api.account())["friends"]}
        assert len(expected) == len(friends)
        with trio.fail_after(30):
            while True:
                got = {s["to"] for s in await api.sent() if s["content"] == "to everyone"}
                if got == expected:
                    break
                await trio.sleep(0.05)


async def test_broadcast_goes_through_the_paced_queue(tmp_path, clock):
    """id=@all answers at once; the sends then keep send_interval apart (no burst)."""
    async with api_on_sim(tmp_path, send_interval=3.0) as api:
        count = len(api.worker.client.contacts.friends)
        start = trio.current_time()
        r = await api.call("send_friend_message", id="@all", content="paced")
        assert r["count"] == count and trio.current_time() - start < 1
        await wait_sent(api, lambda s: s["content"] == "paced")  # the first one went out
        first = trio.current_time()
        with trio.fail_after(3 * count + 30):
            while len([s for s in await api.sent() if s["content"] == "paced"]) < count:  # noqa: ASYNC110
                await trio.sleep(1)  # coarse: each look is an HTTP call to the simulator
        assert trio.current_time() - first >= 3.0 * (count - 1) - 0.5


async def test_revoke_by_msg_id_and_by_mojo_id(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol = api.friend_id(name="Carol")
        first = await api.call("send_friend_message", id=carol, content="oops")
        second = await api.call("send_friend_message", id=carol, content="oops 2")
        r = await api.call("revoke_message", id=first["msg_id"])
        assert r == {"code": 0, "id": first["msg_id"], "status": "revoke success"}
        r = await api.call("revoke_message", id=second["id"])
        assert r == {"code": 0, "id": second["id"], "status": "revoke success"}
        # A message the API did not send (a post_api reply, say): found in the event log.
        other = await api.worker.client.send_text(carol, "sent by a reply")
        r = await api.call("revoke_message", id=other.msg_id)
        assert r == {"code": 0, "id": other.msg_id, "status": "revoke success"}
        revoked = {str(s["msg_id"]) for s in await api.sent() if s["revoked"]}
        assert revoked == {first["msg_id"], second["msg_id"], other.msg_id}
        assert await api.call("revoke_message") == {
            "code": -1, "status": "msg id not found", "id": None}
        assert (await api.call("revoke_message", id="12345"))["status"] == "msg id not found"


# --------------------------------------------------------------------------- consult


async def test_consult_waits_for_that_friends_reply(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol = api.friend_id(name="Carol")
        answer: dict = {}

        async def ask() -> None:
            answer.update(await api.call("consult", id=carol, content="1+1?", timeout="60"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await wait_sent(api, lambda s: s["content"] == "1+1?")
            await api.message_from(DAVE, "not me")  # another friend: keeps waiting (H.2)
            await api.message_from(CAROL, "hello from a group", group=GROUP)
            await trio.sleep(1)
            assert not answer
            reply_id = await api.message_from(CAROL, "2")
        assert answer["code"] == 0 and answer["reply"] == "2"
        assert answer["status"] == "发送成功" and answer["id"] == reply_id
        assert answer["msg_id"] == str((await api.sent())[-1]["msg_id"])


async def test_consult_timeout_shape(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        start = trio.current_time()
        r = await api.call("consult", markname="Bobby", content="anyone?", timeout="45")
        assert trio.current_time() - start >= 45
        assert r["reply"] is None and r["reply_status"] == "reply timeout"
        assert r["code"] == 0 and r["status"] == "发送成功" and r["msg_id"]
        start = trio.current_time()  # the default timeout is 30 s
        r = await api.call("consult", markname="Bobby", content="anyone at all?")
        assert 30 <= trio.current_time() - start < 31 and r["reply_status"] == "reply timeout"
        r = await api.call("consult", account="nobody", content="x")
        assert r == {"code": 100, "status": "object not found", "id": None}
        assert (await api.call("consult", markname="Bobby"))["code"] == 400


# --------------------------------------------------------------------------- events, process


async def test_check_event_long_poll_and_cursor(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        # What happened since start (the filehelper new_friend etc.) is buffered; take it.
        await api.call("check_event")
        start = trio.current_time()
        assert await api.call("check_event") == []  # held 30 s, then []
        assert trio.current_time() - start >= 30

        got: list = []

        async def poll() -> None:
            got.extend(await api.call("check_event"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            await trio.sleep(5)
            await api.message_from(CAROL, "ping")
        assert [(i["post_type"], i["content"]) for i in got] == [("receive_message", "ping")]
        assert got[0]["sender"] == "Carol" and got[0]["event_id"] > 0

        # cursor: everything after an event_id, the buffer untouched.
        cursor = got[0]["event_id"]
        await api.message_from(CAROL, "a")
        await api.message_from(CAROL, "b")
        await wait_item(api.worker, lambda i: getattr(i, "content", "") == "b", after=cursor)
        items = await api.call("check_event", cursor=str(cursor))
        assert [i["content"] for i in items if i["post_type"] == "receive_message"] == ["a", "b"]
        assert [i["content"] for i in await api.call("check_event")] == ["a", "b"]


async def test_stop_client_stops_the_worker(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        info = await api.call("get_client_info")
        assert info["code"] == 0 and info["state"] == "running" and info["account"] == "test"
        r = await api.call("stop_client")
        assert r["code"] == 0 and "will stop in 3 seconds" in r["status"]
        with trio.fail_after(3):
            await api.worker.client.wait_stopped()
        assert str(api.worker.client.state) == "stop"


async def test_not_running_before_login(tmp_path, clock):
    async with open_sim() as sim, running_worker(sim, tmp_path, wait=False) as worker:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.port}") as http:
            with trio.fail_after(30):
                await worker.state.wait_state(ClientState.scaning)
            r = await http.get("/openwx/send_friend_message", params={"id": "x", "content": "y"})
            assert r.json() == {"code": 300, "status": "client not running (state scaning)",
                                "state": "scaning"}
            assert (await http.get("/openwx/get_client_info")).json()["state"] == "scaning"
            await scan_and_confirm(sim)
            with trio.fail_after(30):
                await worker.client.wait_running()
            assert len((await http.get("/openwx/get_friend_info")).json()) > 3


async def test_send_failures_answer_wechats_ret(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        carol = api.friend_id(name="Carol")
        await sim_post(api.sim, "/sim/faults",
                       {"endpoint": "webwxsendmsg", "kind": "ret_1205", "count": 20})
        r = await api.call("send_friend_message", id=carol, content="too fast")
        assert r["code"] == 1205 and r["status"].startswith("发送失败")
        assert r["msg_id"] is None and r["id"]  # Mojo's local id of the failed message
        await api.sim_http.delete("/sim/faults")
        await sim_post(api.sim, "/sim/faults",
                       {"endpoint": "webwxsendmsg", "kind": "http_500", "count": 20})
        r = await api.call("send_friend_message", id=carol, content="server down")
        assert r["code"] == -1 and r["status"].startswith("发送失败")
        assert await api.sent() == []


async def test_revoke_too_late_is_a_failure(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        sent = await api.call("send_friend_message", markname="Bobby", content="old news")
        await trio.sleep(180)  # WeChat refuses revokes after 2 minutes
        r = await api.call("revoke_message", id=sent["msg_id"])
        assert r["code"] == 201 and r["status"] == "revoke failure" and r["reason"]
        assert not (await api.sent())[-1]["revoked"]


# --------------------------------------------------------------------------- reading, failures


async def test_info_and_search_reflect_the_simulated_account(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        user = await api.call("get_user_info")
        assert user["name"] == "Alice" and user["id"] == api.worker.client.contacts.self_id
        friends = await api.call("get_friend_info")
        sim_friends = (await api.account())["friends"]
        assert len(friends) == len(sim_friends)
        by_name = {f["name"]: f for f in friends}
        assert by_name["Carol"]["city"] == "深圳" and by_name["Carol"]["sex"] == "female"
        assert by_name["Bob"]["markname"] == "Bobby" and by_name["Bob"]["displayname"] == "Bobby"
        assert by_name["腾讯新闻"]["category"] == "公众号"
        assert by_name["文件传输助手"]["category"] == "系统帐号"
        groups = await api.call("get_group_info")
        team = next(g for g in groups if g["displayname"] == "测试群")
        assert len(team["member"]) == 5
        assert {m["displayname"] for m in team["member"]} >= {"卡罗尔", "Alice"}
        basic = await api.call("get_group_basic_info")
        assert [g["id"] for g in basic] == [g["id"] for g in groups]
        assert all("member" not in g for g in basic)
        found = await api.call("search_friend", province="广东", city="深圳")
        assert [f["name"] for f in found] == ["Carol"]
        found = await api.call("search_group", displayname="Family")
        assert [len(g["member"]) for g in found] == [3]
        assert await api.call("search_group", displayname="family") == {
            "code": 100, "status": "object not found"}


async def test_operation_failures_change_nothing(tmp_path, clock):
    async with api_on_sim(tmp_path) as api:
        before = await api.account()
        carol = api.friend_id(name="Carol")
        group = api.group_id(displayname="测试群")
        assert (await api.call("create_group", friends="@nobody"))["code"] == 100
        assert (await api.call("create_group", friends=""))["code"] == 200
        assert (await api.call("invite_friend", id="@@nope", friends=carol))["code"] == 100
        assert (await api.call("kick_group_member", id=group, members="@nobody"))["code"] == 100
        assert (await api.call("set_group_displayname", id=group, new_displayname=""))[
            "code"] == 400
        assert (await api.call("set_markname", id="@nobody", new_markname="x"))["code"] == 100
        assert (await api.call("make_friend", id=carol))["code"] == 101
        assert (await api.call("stick", id="@nobody"))["code"] == 100
        assert (await api.call("upload_media"))["code"] == 400
        assert (await api.call("get_avatar", id="@nobody"))["code"] == 100
        assert await api.account() == before
        assert await api.sent() == []
        assert str(api.worker.client.state) == "running"  # nothing above hurt the worker
