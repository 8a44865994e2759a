"""The world's sync log, without HTTP: whatever mix of events and page sizes, a client that
follows its SyncKeys gets every event exactly once, in order; a stale key re-delivers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wechat_sim.model import Person
from wechat_sim.world import SimConfig
from wechat_sim.worldgen import default_world

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"

ops = st.lists(st.one_of(st.just("msg"), st.just("friend"), st.just("sync")), max_size=40)


def logged_in(world):
    login = world.new_login()
    world.scan(login.uuid, ALICE)
    world.confirm(login.uuid)
    return world.exchange_ticket(login.uuid, world.logins[login.uuid].ticket)


@settings(max_examples=60, deadline=None)
@given(steps=ops, page=st.integers(min_value=1, max_value=5))
async def test_every_event_exactly_once_in_order(steps, page):
    world = default_world(SimConfig(sync_page=page))
    session = logged_in(world)
    key = world.init_key(session)
    sent: list[str] = []
    got: list[str] = []
    n = 0

    def drain():
        nonlocal key
        while True:
            result = world.sync(session, key)
            got.extend(str(m.msg_id) for m in result.messages)
            got.extend(f"mod:{w}" for w in result.modified)
            key = result.sync_key
            if not result.continue_flag:
                return

    for step in steps:
        if step == "msg":
            sent.append(str(world.incoming(ALICE, CAROL, "text", f"m{n}").msg_id))
        elif step == "friend":
            wxid = f"wxid_x{n}"
            world.add_friend(ALICE, Person(wxid, f"X{n}"), notice=False)
            sent.append(f"mod:{wxid}")
        else:
            drain()
        n += 1
    drain()
    # AddMsgList and ModContactList are separate lists: order holds within each kind
    assert [g for g in got if g.startswith("mod:")] == [x for x in sent if x.startswith("mod:")]
    assert [g for g in got if not g.startswith("mod:")] == [
        x for x in sent if not x.startswith("mod:")
    ]
    assert world.selector(session, world.position_for_check(session, key)) == 0


async def test_stale_key_redelivers_and_a_new_session_starts_empty():
    world = default_world()
    session = logged_in(world)
    key = world.init_key(session)
    world.incoming(ALICE, CAROL, "text", "hello")
    first = world.sync(session, key)
    again = world.sync(session, key)
    assert [m.msg_id for m in first.messages] == [m.msg_id for m in again.messages]
    assert world.selector(session, world.position_for_check(session, first.check_key)) == 0
    assert world.selector(session, world.position_for_check(session, key)) == 2
    newer = logged_in(world)
    assert not session.alive and session.ended == 1101
    assert world.sync(newer, world.init_key(newer)).messages == []
