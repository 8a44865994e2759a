"""Issue 6: a real worker process killed with SIGKILL mid-delivery, then restarted.

test_delivery.py kills a bare Delivery loop; this one kills the whole ``openwx-worker
run`` process (logged in to the simulator, posting to a webhook on loopback) while a
POST is in flight, and starts it again on the same files. Every message must then
reach the webhook, in order; an item may come twice only with the same event_id
(at-least-once). Real time: the worker is another process, so no fake clock here
(nothing waits on a timeout; the waits below only turn a hang into a failure).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from pathlib import Path

import trio
from events_webhook import Webhook, open_webhook

from openwx_worker.testing import sim_post
from wechat_sim.testing import open_sim

ALICE = "wxid_alice0000000001"
CAROL = "wxid_carol0000000001"
SAFETY = 60  # seconds


def _config(tmp_path: Path, sim, hook: Webhook) -> Path:
    path = tmp_path / "worker.toml"
    path.write_text(
        f'account = "test"\nport = 0\ntmpdir = "{tmp_path / "tmp"}"\n'
        f'data_dir = "{tmp_path / "data"}"\nmedia_dir = "{tmp_path / "media"}"\n'
        f'wechat_base = "{sim.base_url}"\npost_api = "{hook.url}"\n'
        'send_interval = 0.0\nqrcode_terminal = false\nlog_level = "warning"\n'
        "post_retry_base = 0.05\npost_retry_max = 0.2\n"
    )
    return path


async def _start_worker(config: Path) -> trio.Process:
    code = "import sys; from openwx_worker.cli import main; sys.exit(main())"
    return await trio.lowlevel.open_process(
        [sys.executable, "-c", code, "run", "--config", str(config)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _contents(hook: Webhook) -> list[tuple[int, str]]:
    docs = [r.json() for r in hook.received]
    return [(d["event_id"], d["content"]) for d in docs if d["post_type"] == "receive_message"]


def _logged(db: Path) -> list[str]:
    """The contents of the messages in the worker's event log (read-only, the worker runs)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT body FROM log WHERE post_type = 'receive_message'").fetchall()
    return [row[0].decode() for row in rows]


async def _until(predicate) -> None:
    with trio.fail_after(SAFETY):
        while not predicate():  # noqa: ASYNC110 - another process's state
            await trio.sleep(0.05)


async def test_worker_killed_mid_delivery_and_restarted_loses_nothing(tmp_path):
    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        config = _config(tmp_path, sim, hook)
        db = tmp_path / "data" / "events_test.sqlite3"
        worker = await _start_worker(config)
        try:
            await _until(lambda: any(r.json().get("event") == "login" for r in hook.received))
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "m1"})
            await _until(lambda: [c for _, c in _contents(hook)] == ["m1"])

            hook.mode = "hang"  # the next POST is taken and never answered
            for n in range(2, 6):
                await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                               {"from": CAROL, "content": f"m{n}"})
            await _until(lambda: any(b'"m2"' in r.body for r in hook.requests))  # in flight
            await _until(lambda: db.exists() and sum('"m5"' in b for b in _logged(db)) == 1)
            worker.send_signal(signal.SIGKILL)
            with trio.fail_after(SAFETY):
                assert await worker.wait() == -signal.SIGKILL
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        assert [c for _, c in _contents(hook)] == ["m1"]  # m2 was in flight at the kill

        hook.stop()  # drop the hung connection; listen again, answering normally
        await hook.start()
        hook.mode = "ok"
        worker = await _start_worker(config)
        try:
            wanted = [f"m{n}" for n in range(1, 6)]
            await _until(lambda: [c for _, c in _contents(hook)][-4:] == wanted[1:])
            await sim_post(sim, f"/sim/accounts/{ALICE}/messages",
                           {"from": CAROL, "content": "m6"})  # and the restarted worker lives
            await _until(lambda: "m6" in [c for _, c in _contents(hook)])
        finally:
            worker.send_signal(signal.SIGTERM)
            with trio.fail_after(SAFETY):
                await worker.wait()

    got = _contents(hook)
    first_seen = list(dict.fromkeys(got))
    assert [c for _, c in first_seen] == [f"m{n}" for n in range(1, 7)]  # none lost, in order
    ids = [i for i, _ in first_seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len(got) == len(first_seen)  # m2 was never accepted, so nothing came twice
