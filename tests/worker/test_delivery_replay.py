"""Issue 6: a message the service replays after a re-login or a restart is posted once.

WeChat delivers a message again, with its original MsgId, when it cannot be sure the client
has it: what an ended session never acknowledged goes to the next login, and recent
messages come again when a client initialises. Mojo::Weixin posted those twice. The worker
remembers every MsgId it published (EventLog.seen_msg_id, kept across restarts), so the
webhook sees each message once. The simulator stages the replays (wechat_sim/replay.py):
each test checks the replay really reached the worker, so it cannot pass by accident.
"""

from __future__ import annotations

import pytest
import trio
from events_webhook import open_webhook

from openwx_worker.events import EventLog
from openwx_worker.testing import is_event, running_worker, sim_post, wait_item
from wechat_sim.testing import open_sim
from wechat_sim.world import SimConfig

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"


@pytest.fixture
def clock(autojump_clock):
    # real loopback I/O (simulator, webhook) is in flight while all tasks wait
    autojump_clock.autojump_threshold = 0.05
    return autojump_clock


def _received(hook) -> list[dict]:
    docs = [r.json() for r in hook.received]
    return [d for d in docs if d["post_type"] == "receive_message"]


def _posted(hook, msg_id: str) -> int:
    return sum(1 for d in _received(hook) if d["id"] == msg_id)


async def _wait(predicate) -> None:
    """Poll `predicate` (the webhook and simulator are other servers: nothing to wait on)."""
    with trio.fail_after(120):
        while not predicate():  # noqa: ASYNC110 - polling another server's state
            await trio.sleep(0.1)


async def _say(sim, content: str) -> str:
    answer = await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                            {"from": CAROL, "content": content})
    return answer["msg_id"]


def _in_log(sim, msg_id: str) -> int:
    """How often the account's live session was given `msg_id` (2 = replayed to it)."""
    (session,) = sim.world.live_sessions(ALICE)
    return sum(1 for i in session.log if i.message and str(i.message.msg_id) == msg_id)


async def _relogin_with_replay(sim, hook, worker) -> tuple[str, str]:
    """hello reaches the webhook; WeChat ends the session (1101); the worker logs in again
    (push login, confirmed by the simulated phone) and the new session gets hello again
    (never acknowledged by the ended one); then "after" arrives. Returns both MsgIds."""
    hello = await _say(sim, "hello")
    await _wait(lambda: _posted(hook, hello) == 1)
    cursor = worker.events.last_event_id
    assert await sim_post(sim, f"/sim/accounts/{ALICE}/logout", {"retcode": 1101}) == {"ended": 1}
    login = await wait_item(worker, is_event("login"), after=cursor)
    assert login.params == [1]  # a new session, not a resume
    await worker.client.wait_running()
    assert _in_log(sim, hello) == 1  # the new session was given hello again
    after = await _say(sim, "after")
    await _wait(lambda: _posted(hook, after) == 1)  # synced past the replay (same log)
    await trio.sleep(10)  # time for a late duplicate to show, if there were one
    return hello, after


async def test_replay_after_forced_relogin_is_posted_once(tmp_path, clock):
    config = SimConfig(replay_unacked=True)
    async with open_sim(auto_confirm=True, config=config) as sim, open_webhook() as hook:
        async with running_worker(sim, tmp_path, post_api=hook.url) as worker:
            hello, after = await _relogin_with_replay(sim, hook, worker)
            assert worker.client.login_count == 2
    assert (_posted(hook, hello), _posted(hook, after)) == (1, 1)
    assert [d["content"] for d in _received(hook)] == ["hello", "after"]


async def test_without_msg_id_dedup_the_replay_would_be_posted_twice(tmp_path, clock,
                                                                      monkeypatch):
    """The control for the test above: the same staging with the worker's MsgId memory
    switched off posts hello twice, so the replay does reach the delivery path."""
    monkeypatch.setattr(EventLog, "seen_msg_id", lambda self, msg_id: False)
    config = SimConfig(replay_unacked=True)
    async with open_sim(auto_confirm=True, config=config) as sim, open_webhook() as hook:
        async with running_worker(sim, tmp_path, post_api=hook.url) as worker:
            hello, after = await _relogin_with_replay(sim, hook, worker)
    assert (_posted(hook, hello), _posted(hook, after)) == (2, 1)


async def test_replay_after_worker_restart_is_posted_once(tmp_path, clock):
    """The worker stops and starts again on the same files: it resumes the saved session
    (login 0) and WeChat re-sends the recent message at its webwxinit; the MsgId memory
    was kept on disk, so hello is not posted again, and new messages still arrive."""
    config = SimConfig(replay_on_login=1)
    async with open_sim(auto_confirm=True, config=config) as sim, open_webhook() as hook:
        async with running_worker(sim, tmp_path, post_api=hook.url):
            hello = await _say(sim, "hello")
            await _wait(lambda: _posted(hook, hello) == 1)
        assert _in_log(sim, hello) == 1  # the first init replayed nothing; hello came once
        async with running_worker(sim, tmp_path, post_api=hook.url) as worker:
            login = await wait_item(worker, is_event("login"), after=worker.events.start_event_id)
            assert login.params == [0]  # resumed the same session from the cookie file
            assert _in_log(sim, hello) == 2  # ...and its webwxinit queued hello again
            after = await _say(sim, "after")
            await _wait(lambda: _posted(hook, after) == 1)
            await trio.sleep(10)
    assert (_posted(hook, hello), _posted(hook, after)) == (1, 1)
    assert [d["content"] for d in _received(hook)] == ["hello", "after"]


async def test_replay_into_the_live_session_is_posted_once(tmp_path, clock):
    """POST /sim/accounts/{wxid}/replay: the service re-delivers without any re-login."""
    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        async with running_worker(sim, tmp_path, post_api=hook.url):
            hello = await _say(sim, "hello")
            await _wait(lambda: _posted(hook, hello) == 1)
            replay = await sim_post(sim, f"/sim/accounts/{ALICE}/replay", {"count": 1})
            assert replay == {"msg_ids": [hello], "sessions": 1}
            assert _in_log(sim, hello) == 2
            after = await _say(sim, "after")
            await _wait(lambda: _posted(hook, after) == 1)
            await trio.sleep(10)
    assert (_posted(hook, hello), _posted(hook, after)) == (1, 1)
