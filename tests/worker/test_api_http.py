"""The HTTP layer of the Openwx API, served by hypercorn on loopback.

The app runs over a real ContactBook filled with real model objects and a real
EventLog; the worker's client here only holds the contacts and a state (these
tests never reach an endpoint that would ask WeChat). What is tested: parameters
from every source, look-ups (reference 0.1), CORS and JSONP (section 0), the
access token, unknown paths, /openapi.json, the not-running answers (section B).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import trio

from openwx_worker.api import create_app
from openwx_worker.api.testing import serve_app
from openwx_worker.config import WorkerConfig
from openwx_worker.contacts import ContactBook
from openwx_worker.events import EventLog
from openwx_worker.models import make_friend, make_group, make_member, make_user
from openwx_worker.state import ClientState

ME = "@me"


def contact_book() -> ContactBook:
    book = ContactBook()
    book.replace_all(
        make_user(id=ME, uid=42, name="我"),
        [
            make_friend(id="@a", name="Alice", markname="阿丽", account="alice", city="深圳"),
            make_friend(id="@b", name="Bob", city="深圳", province="广东"),
            make_friend(id="@b2", name="Bob", city="上海"),
            make_friend(id="@gh", name="公众号X", verify_flag=8),
        ],
        [
            make_group(id="@@g1", name="", self_id=ME, members=[
                make_member(id=ME, nickname="我"),
                make_member(id="@a", nickname="Alice"),
                make_member(id="@m1", nickname="M1"),
            ]),
            make_group(id="@@g2", name="Team", self_id=ME,
                       members=[make_member(id="@b", nickname="Bob")]),
        ],
    )  # fmt: skip
    return book


@dataclass
class ContactsOnlyClient:
    """The two things the read endpoints use: the contacts and the state."""

    contacts: ContactBook
    state: ClientState = ClientState.running


@dataclass
class LocalWorker:
    config: WorkerConfig
    events: EventLog
    client: Any
    state: Any = None
    stop_requests: int = 0
    stopped: trio.Event = field(default_factory=trio.Event)

    def request_stop(self) -> None:
        self.stop_requests += 1
        self.stopped.set()


@pytest.fixture
def events(tmp_path):
    with EventLog.open(tmp_path / "events.db") as log:
        yield log


def make_worker(tmp_path, events, **config) -> LocalWorker:
    cfg = WorkerConfig(tmpdir=str(tmp_path), data_dir=str(tmp_path), **config)
    return LocalWorker(cfg, events, ContactsOnlyClient(contact_book()))


@pytest.fixture
async def api(tmp_path, events):
    """(worker, httpx client on the served app)."""
    worker = make_worker(tmp_path, events)
    async with serve_app(create_app(worker)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=None) as http:
            yield worker, http


# --------------------------------------------------------------------------- parameters


async def test_parameters_from_query_form_multipart_and_json(api):
    _, http = api
    answers = [
        await http.get("/openwx/search_friend", params={"city": "深圳", "name": "Bob"}),
        await http.post("/openwx/search_friend", data={"city": "深圳", "name": "Bob"}),
        await http.post("/openwx/search_friend", data={"city": "深圳", "name": "Bob"},
                        files={"unrelated": ("x.bin", b"\x00\x01")}),
        await http.post("/openwx/search_friend", json={"city": "深圳", "name": "Bob"}),
        await http.post("/openwx/search_friend?city=%E6%B7%B1%E5%9C%B3", data={"name": "Bob"}),
    ]
    for r in answers:
        assert r.status_code == 200
        assert [f["id"] for f in r.json()] == ["@b"]


async def test_unknown_and_repeated_parameters(api):
    _, http = api
    # Unknown keys (datatype, callback, client, a token...) never crash a search (H.5).
    r = await http.get("/openwx/search_friend?id=@a&client=x&zzz=1&callback=")
    assert [f["id"] for f in r.json()] == ["@a"]
    # A repeated key keeps its last value.
    r = await http.get("/openwx/search_friend?id=@b&id=@a")
    assert [f["id"] for f in r.json()] == ["@a"]


async def test_json_body_values_become_strings(api):
    _, http = api
    # A JSON array is a comma list; the first unknown id is named in the answer.
    r = await http.post("/openwx/create_group", json={"friends": ["@a", "@nobody"]})
    assert r.json() == {"code": 100, "status": "friend id @nobody not found"}
    r = await http.post("/openwx/stick", json={"id": "@a", "op": 7})
    assert r.json()["code"] == 400 and "op" in r.json()["status"]


async def test_bad_bodies_are_answered_400(api):
    _, http = api
    for body, ctype in [(b"{not json", "application/json"), (b"[1,2]", "application/json"),
                        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
                        (b"a=1", "multipart/form-data")]:
        r = await http.post("/openwx/search_friend", content=body,
                            headers={"content-type": ctype})
        assert r.status_code == 200
        assert r.json()["code"] == 400, r.text


async def test_too_many_fields_and_odd_encodings(api):
    _, http = api
    r = await http.get("/openwx/search_friend?" + "&".join(f"k{i}=1" for i in range(2000)))
    assert r.json()["code"] == 400
    r = await http.get("/openwx/search_friend?name=%E6%B7&city=%ZZ")  # broken escapes
    assert r.json() == {"code": 100, "status": "object not found"}
    r = await http.get("/openwx/%E6%B7%B1")
    assert r.status_code == 404 and r.json()["code"] == 404


async def test_invalid_values_name_the_parameter(api):
    _, http = api
    r = await http.get("/openwx/stick", params={"id": "@a", "op": "x"})
    assert r.json() == {"code": 400, "status": "invalid parameter op: Expected `int`, got `str`"}
    r = await http.get("/openwx/check_event", params={"cursor": "-1"})
    assert r.json()["code"] == 400


async def test_body_too_large_is_413(tmp_path, events):
    worker = make_worker(tmp_path, events, media_size_max=10)
    async with serve_app(create_app(worker)) as base, httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/openwx/search_friend", content=b"x" * (2 * 1024 * 1024))
        assert r.status_code == 413
        assert r.json()["code"] == 413


# --------------------------------------------------------------------------- look-ups


async def test_info_endpoints_answer_the_contact_book(api):
    _, http = api
    user = (await http.get("/openwx/get_user_info")).json()
    assert user["id"] == ME and user["uid"] == 42 and user["displayname"] == "我"
    friends = (await http.post("/openwx/get_friend_info")).json()  # POST works too
    assert [f["id"] for f in friends] == ["@a", "@b", "@b2", "@gh", "filehelper"]
    assert friends[3]["category"] == "公众号"
    groups = (await http.get("/openwx/get_group_info")).json()
    assert [m["id"] for m in groups[0]["member"]] == [ME, "@a", "@m1"]
    assert groups[0]["displayname"] == "Alice、M1"
    basic = (await http.get("/openwx/get_group_basic_info")).json()
    assert [g["id"] for g in basic] == ["@@g1", "@@g2"]
    assert all("member" not in g for g in basic)


async def test_search_is_and_exact_and_needs_a_criterion(api):
    _, http = api
    r = await http.get("/openwx/search_friend", params={"name": "Bob"})
    assert [f["id"] for f in r.json()] == ["@b", "@b2"]
    r = await http.get("/openwx/search_friend", params={"name": "Bob", "city": "上海"})
    assert [f["id"] for f in r.json()] == ["@b2"]
    for params in [{"name": "bob"}, {}, {"member": "x"}, {"name": "Bob", "city": "北京"}]:
        r = await http.get("/openwx/search_friend", params=params)
        assert r.json() == {"code": 100, "status": "object not found"}, params
    r = await http.get("/openwx/search_group", params={"displayname": "Team"})
    assert [g["id"] for g in r.json()] == ["@@g2"]
    r = await http.get("/openwx/search_group", params={"displayname": "Alice、M1"})
    assert [g["id"] for g in r.json()] == ["@@g1"]


async def test_single_target_lookups_and_their_errors(api):
    worker, http = api

    async def code(path: str, **params: str) -> dict:
        return (await http.get(f"/openwx/{path}", params=params)).json()

    assert await code("set_group_displayname", id="@@nope", new_displayname="x") == {
        "code": 100, "status": "object not found"}
    # An empty new name is refused (Mojo::Weixin exited the worker here, H.1).
    assert (await code("set_group_displayname", id="@@g2", new_displayname=""))["code"] == 400
    assert (await code("set_group_displayname", id="@@g2"))["code"] == 400
    assert await code("invite_friend", id="@@g2") == {"code": 200, "status": "friend id empty"}
    assert await code("invite_friend", displayname="Team", friends="@a,@zz") == {
        "code": 100, "status": "friend id @zz not found"}
    assert await code("kick_group_member", id="@@g2", members=" , ") == {
        "code": 200, "status": "member id empty"}
    assert await code("kick_group_member", id="@@g2", members="@a") == {
        "code": 100, "status": "member id @a not found"}
    assert await code("create_group") == {"code": 200, "status": "friend id empty"}
    assert await code("make_friend", id=ME) == {"code": 101, "status": "can not be yourself"}
    assert await code("make_friend", id="@a") == {"code": 101, "status": "already a friend"}
    assert (await code("make_friend", id="@stranger"))["code"] == 100
    assert (await code("stick", id="@@zz"))["code"] == 100
    assert (await code("stick"))["code"] == 100
    assert await code("set_markname", group_id="@@zz", id="@m1") == {
        "code": 100, "status": "group not found"}
    assert (await code("set_markname", group_id="@@g1", id="@zz"))["code"] == 100
    assert (await code("set_markname", markname="nobody"))["code"] == 100
    assert (await code("set_friend_markname", account="nobody"))["code"] == 100
    assert (await code("accept_friend_request", id="@x"))["code"] == 400
    assert (await code("get_avatar", id="@nobody")) == {
        "code": 100, "status": "object not found", "id": None}
    assert (await code("get_avatar"))["code"] == 100


# --------------------------------------------------------------------------- edges


async def test_cors_on_every_answer_and_preflight(api):
    _, http = api
    for r in [await http.get("/openwx/get_user_info"), await http.get("/nowhere"),
              await http.get("/openwx/search_friend")]:
        assert r.headers["access-control-allow-origin"] == "*"
    r = await http.options("/anything/at/all")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["access-control-allow-methods"] == "OPTIONS, HEAD, GET, POST"
    assert "Authorization" in r.headers["access-control-allow-headers"]


async def test_jsonp(api):
    _, http = api
    r = await http.get("/openwx/get_user_info", params={"datatype": "jsonp", "callback": "cb.x"})
    assert r.text.startswith("cb.x({") and r.text.endswith("})")
    assert json.loads(r.text[5:-1])["id"] == ME
    # Errors are wrapped too; a callback that is not an identifier is replaced.
    r = await http.get("/openwx/search_friend",
                       params={"datatype": "jsonp", "callback": "alert(1)//"})
    assert r.text.startswith("jsoncallback")
    assert json.loads(r.text[r.text.index("(") + 1:-1])["code"] == 100


async def test_unknown_path_and_method(api):
    _, http = api
    r = await http.get("/openwx/send_message")  # named in Mojo's demo, never existed
    assert r.status_code == 404
    assert r.json() == {"code": 404, "status": "api not found: /openwx/send_message"}
    r = await http.put("/openwx/get_user_info")
    assert r.status_code == 405 and r.json()["code"] == 404
    r = await http.head("/openwx/get_user_info")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0


async def test_method_override_on_post(api):
    _, http = api
    # Mojolicious routes a POST by the query's _method (reference 0); our endpoints take
    # GET and POST alike, so GET keeps working and other methods get the 405 a PUT gets.
    r = await http.post("/openwx/search_friend?_method=GET", data={"id": "@a"})
    assert [f["id"] for f in r.json()] == ["@a"]
    r = await http.post("/openwx/get_user_info?_method=put")
    assert r.status_code == 405 and r.json() == {"code": 404, "status": "method PUT not allowed"}
    r = await http.post("/openwx/get_user_info?_method=HEAD")  # routed as HEAD, still a body
    assert r.status_code == 200 and r.json()["id"] == ME
    # Only on POST and only from the query string, as Mojolicious.
    assert (await http.get("/openwx/get_user_info?_method=PUT")).json()["id"] == ME
    r = await http.post("/openwx/get_user_info", data={"_method": "PUT"})
    assert r.status_code == 200 and r.json()["id"] == ME


async def test_access_token(tmp_path, events):
    worker = make_worker(tmp_path, events, access_token="s3cret")
    async with serve_app(create_app(worker)) as base, httpx.AsyncClient(base_url=base) as http:
        r = await http.get("/openwx/get_user_info")
        assert r.status_code == 401 and r.json() == {"code": -6, "status": "access token missing"}
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = await http.get("/openwx/get_user_info", params={"access_token": "nope"})
        assert r.status_code == 403 and r.json() == {"code": -6, "status": "access token wrong"}
        r = await http.get("/openwx/get_user_info", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 403
        ok = [
            await http.get("/openwx/get_user_info", headers={"Authorization": "Bearer s3cret"}),
            await http.get("/openwx/get_user_info", params={"access_token": "s3cret"}),
            await http.post("/openwx/get_user_info", json={"access_token": "s3cret"}),
            await http.get("/openwx/get_user_info", headers={"X-Auth-Token": "s3cret"}),
        ]
        assert all(r.status_code == 200 and r.json()["id"] == ME for r in ok)
        # The preflight needs no token (browsers never send one on it).
        assert (await http.options("/openwx/get_user_info")).status_code == 200


async def test_not_running_answers_at_once_naming_the_state(api):
    worker, http = api
    worker.client.state = ClientState.scaning
    for path in ["get_friend_info", "send_friend_message", "search_group", "consult"]:
        r = await http.get(f"/openwx/{path}", params={"id": "@a", "content": "hi"})
        assert r.status_code == 200
        assert r.json() == {"code": 300, "status": "client not running (state scaning)",
                            "state": "scaning"}
    info = (await http.get("/openwx/get_client_info")).json()
    assert info["code"] == 0 and info["state"] == "scaning" and info["account"] == "default"
    assert info["log_path"] == ""  # unset: "" as Mojo::Weixin (A.14), not null
    assert (await http.get("/openwx/check_event", params={"timeout": 0})).json() == []
    worker.client = None  # before the client exists
    r = await http.get("/openwx/get_user_info")
    assert r.json()["state"] == "init"


async def test_stop_client_answers_then_stops(api):
    worker, http = api
    r = await http.get("/openwx/stop_client")
    body = r.json()
    assert body["code"] == 0 and body["account"] == "default"
    assert body["status"] == f"success, client({body['pid']}) will stop in 3 seconds"
    with trio.fail_after(2):
        await worker.stopped.wait()
    assert worker.stop_requests == 1


async def test_openapi_lists_every_endpoint_parameter_and_reply(api):
    worker, http = api
    doc = (await http.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    expected = {
        "get_user_info", "get_friend_info", "get_group_info", "get_group_basic_info",
        "get_avatar", "search_friend", "search_group", "create_group", "invite_friend",
        "make_friend", "set_group_displayname", "kick_group_member", "set_markname",
        "set_friend_markname", "stick", "accept_friend_request", "send_friend_message",
        "send_group_message", "revoke_message", "upload_media", "consult", "check_event",
        "get_client_info", "stop_client",
    }
    assert {p.removeprefix("/openwx/") for p in doc["paths"]} == expected
    send = doc["paths"]["/openwx/send_friend_message"]
    names = {p["name"] for p in send["get"]["parameters"]}
    assert {"id", "account", "displayname", "markname", "content", "media_id",
            "media_path", "async"} <= names
    assert "application/json" in send["post"]["requestBody"]["content"]
    schemas = doc["components"]["schemas"]
    assert {"msg_id", "id", "code", "status"} <= set(schemas["SendReply"]["properties"])
    assert "media_id" in schemas["MediaSendReply"]["properties"]
    assert set(schemas["ErrorReply"]["required"]) == {"code", "status"}
    # Every endpoint lists every field of its parameter Struct (by wire name), on GET
    # and in the POST form body, and one reply schema per reply Struct.
    from openwx_worker.api.replies import ErrorReply
    from openwx_worker.api.routes import endpoints

    for endpoint in endpoints():
        path = doc["paths"][f"/openwx/{endpoint.name}"]
        fields = set(endpoint.params.__struct_encode_fields__)
        assert {p["name"] for p in path["get"]["parameters"]} == fields, endpoint.name
        form = path["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        body = schemas[form["schema"]["$ref"].rsplit("/", 1)[1]]
        assert set(body.get("properties", {})) == fields, endpoint.name
        ok = path["get"]["responses"]["200"]["content"]
        assert endpoint.content_type in ok, endpoint.name
        if endpoint.content_type == "application/json":
            # (ErrorReply is added where the Struct list lacks it: any call may fail)
            assert len(ok["application/json"]["schema"]["oneOf"]) == len(
                set(endpoint.replies) | {ErrorReply})
    friend_reply = doc["paths"]["/openwx/get_friend_info"]["get"]["responses"]["200"]
    variants = friend_reply["content"]["application/json"]["schema"]["oneOf"]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/Friend"}} in variants


def test_avatar_content_type_is_sniffed_as_mojo_did():
    from openwx_worker.api.info import image_type

    assert image_type(b"GIF89a...", "image/jpeg") == "image/gif"
    assert image_type(b"\x89PNG\r\n", "") == "image/png"
    assert image_type(b"PNG...", "") == "image/png"  # Mojo::Weixin's test, kept
    assert image_type(b"\xff\xd8\xff", "image/jpeg") == "image/jpg"  # its non-standard name
    assert image_type(b"????", "image/webp; q=1") == "image/webp"  # else WeChat's, bare
    assert image_type(b"????", "text/html") == "image/jpg"  # never a non-image type
