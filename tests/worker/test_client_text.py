"""Text as people wrote it, in every contact name and in messages, both emoji settings.

The simulator sends names and contents as web WeChat does: HTML-escaped, with each
emoji as ``<span class="emoji emoji1f604"></span>``.  The worker must show what was
typed: real emoji (``emoji_to_text`` off) or ``[name]`` (on, Mojo::Weixin's default).
"""

from __future__ import annotations

import pytest

from openwx_worker.testing import running_client, sim_post, wait_item
from openwx_worker.text import emoji_name
from wechat_sim.testing import open_sim
from wechat_sim.worldgen import build, default_spec

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"
ERIN = "wxid_erin00000000003"
SMILE = "😄"
ODD = f"{SMILE} & <b>"  # an emoji, an entity and typed markup in one name


def _world():
    spec = default_spec()
    people = {p.wxid: p for p in spec.people}
    people[CAROL].nickname = f"Carol {ODD}"
    people[ERIN].nickname = f"Erin {ODD}"  # a member only, not Alice's friend
    alice = spec.accounts[0]
    alice.nickname = f"Alice {ODD}"
    alice.signature = "sig & <b>"  # the simulator sends signature emoji raw
    # The simulator sends remarks and group cards without markup: they must pass unchanged.
    next(f for f in alice.friends if f.wxid == "wxid_bob000000000002").remark = f"Bobby {ODD}"
    group = spec.groups[0]
    group.topic = f"测试群 {ODD}"
    group.display_names[CAROL] = f"卡罗尔 {ODD}"
    return build(spec)


@pytest.fixture
def clock(autojump_clock):
    autojump_clock.autojump_threshold = 0.01
    return autojump_clock


@pytest.mark.parametrize("emoji_to_text", [False, True], ids=["unicode", "emoji_to_text"])
async def test_names_and_messages_are_plain_text(tmp_path, clock, emoji_to_text):
    shown = ODD.replace(SMILE, f"[{emoji_name(SMILE)}]") if emoji_to_text else ODD
    async with open_sim(world=_world(), auto_confirm=True) as sim, running_client(
            sim, tmp_path, emoji_to_text=emoji_to_text) as h:
        book = h.client.contacts
        assert book.user.name == f"Alice {shown}" and book.user.signature == "sig & <b>"
        carol = book.first_friend(name=f"Carol {shown}")
        assert carol is not None
        assert book.first_friend(markname=f"Bobby {ODD}") is not None
        group = book.first_group(name=f"测试群 {shown}")
        assert group is not None and group.displayname == f"测试群 {shown}"
        members = {m.id: m for m in group.member}
        assert members[carol.id].displayname == members[carol.id].display == f"卡罗尔 {ODD}"
        assert f"Erin {shown}" in {m.name for m in members.values()}

        start = h.events.last_event_id
        await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                       {"from": CAROL, "group": "1234567890@chatroom", "content": f"hi {ODD}"})
        msg = await wait_item(h, lambda i: getattr(i, "post_type", "") == "receive_message",
                              after=start)
        assert msg.content == f"hi {shown}"
        assert msg.sender == f"卡罗尔 {ODD}" and msg.group == f"测试群 {shown}"
        assert msg.receiver == f"Alice {shown}"
