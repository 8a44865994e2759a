"""Property: whatever is thrown at any endpoint, the worker answers JSON with a code.

Random parameters (known names with random values, contact ids, random names),
sent as query, urlencoded form, multipart form or JSON body, and random raw bodies,
at every endpoint of a worker logged in to the simulator. Every answer must be a
non-5xx response with a JSON body carrying ``code`` (or a documented success shape:
an array, the user object, an avatar image), and after each batch the worker must
still be alive and running.
"""

from __future__ import annotations

import json
import tempfile

import httpx
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

from openwx_worker.api.routes import endpoints
from openwx_worker.state import ClientState
from openwx_worker.testing import running_worker
from wechat_sim.testing import open_sim

ENDPOINTS = sorted(e.name for e in endpoints() if e.name != "stop_client")
PARAM_NAMES = sorted(
    {name for e in endpoints() for name in e.params.__struct_encode_fields__}
    | {"datatype", "callback", "client", "access_token", "member", "_method"}
)
REQUESTS_PER_EXAMPLE = 12


# Contact ids change on every login, so the strategy draws placeholders ("<ID3>")
# and the test replaces them with the ids of this run's contacts: the data drawn
# stays the same between runs, as Hypothesis needs.
ID = st.integers(0, 50).map(lambda n: f"<ID{n}>")


def with_ids(value: str, ids: list[str]) -> str:
    for n in range(50, -1, -1):
        value = value.replace(f"<ID{n}>", ids[n % len(ids)])
    return value


def values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=30),
        ID,
        st.sampled_from(["", "0", "1", "-1", "@all", "1e9", "nan", "@@", ",", "a,b", "true"]),
        st.lists(ID, max_size=3).map(",".join),
        st.integers(-(2**40), 2**40).map(str),
    ).filter(lambda v: "://" not in v)  # no network but loopback


def request_strategy():
    params = st.dictionaries(
        st.one_of(st.sampled_from(PARAM_NAMES), st.text(min_size=1, max_size=8)),
        values(),
        max_size=6,
    )
    raw_body = st.tuples(
        st.binary(max_size=200),
        st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=xyz", "multipart/form-data",
                         "text/plain", ""]),
    )  # fmt: skip
    return st.tuples(
        st.sampled_from(ENDPOINTS),
        st.sampled_from(["query", "form", "multipart", "json", "raw", "query+json"]),
        params,
        raw_body,
    )


def check_answer(name: str, r: httpx.Response) -> None:
    assert r.status_code < 500, (name, r.status_code, r.text)
    ctype = r.headers.get("content-type", "")
    if name == "get_avatar" and ctype.startswith("image/"):
        return
    text = r.text
    if ctype.startswith("application/javascript"):  # JSONP
        text = text[text.index("(") + 1 : -1]
    body = json.loads(text)
    if isinstance(body, list):
        return
    assert isinstance(body, dict), body
    assert "code" in body or name == "get_user_info", (name, body)
    if "code" in body and body["code"] != 0:
        assert isinstance(body.get("status"), str) and body["status"], body


SETTINGS = settings(
    max_examples=15, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip


@SETTINGS
@given(data=st.data())
def test_random_requests_never_break_the_worker(data):
    # One trio run (with its own autojump clock) per example: a fresh simulator and
    # worker each time, so a failing example replays on its own.
    trio.run(throw_requests, data, True, clock=MockClock(autojump_threshold=0.05))


@settings(SETTINGS, max_examples=5)
@given(data=st.data())
def test_random_requests_while_logging_in(data):
    """Before the QR code is scanned: answers at once, JSON with a code, worker alive."""
    trio.run(throw_requests, data, False, clock=MockClock(autojump_threshold=0.05))


async def send(http: httpx.AsyncClient, name: str, how: str, params: dict, raw: bytes,
               ctype: str) -> httpx.Response:
    path = f"/openwx/{name}"
    if name in ("check_event", "consult"):
        params.setdefault("timeout", "1")
    if how == "query":
        return await http.get(path, params=params)
    if how == "form":
        return await http.post(path, data=params)
    if how == "multipart":
        return await http.post(path, data=params, files={"media": ("x.png", raw, "image/png")})
    if how == "json":
        return await http.post(path, json=params)
    if how == "query+json":
        return await http.post(path, params=params, json={"id": params.get("id")})
    return await http.post(path, content=raw, headers={"content-type": ctype})


async def throw_requests(data, logged_in: bool) -> None:
    tmp = tempfile.mkdtemp(prefix="openwx-prop-")
    async with open_sim(auto_confirm=logged_in) as sim, \
            running_worker(sim, tmp, wait=logged_in) as worker:  # fmt: skip
        book = worker.client.contacts
        ids = [f.id for f in book.friends] + [g.id for g in book.groups] + [book.self_id or "@x"]
        expected_state = "running" if logged_in else "scaning"
        with trio.fail_after(30):
            await worker.state.wait_state(ClientState(expected_state))
        base = f"http://127.0.0.1:{worker.port}"
        async with httpx.AsyncClient(base_url=base, timeout=None) as http:
            for name in ENDPOINTS:  # every endpoint at least once, without parameters
                check_answer(name, await send(http, name, "query", {}, b"", ""))
            for _ in range(REQUESTS_PER_EXAMPLE):
                name, how, params, (raw, ctype) = data.draw(request_strategy())
                params = {k: with_ids(v, ids) for k, v in params.items()}
                check_answer(name, await send(http, name, how, params, raw, ctype))
            with trio.fail_after(5):
                info = (await http.get("/openwx/get_client_info")).json()
            assert info["code"] == 0 and info["state"] == expected_state
