"""The real ``openwx-worker run`` process: SIGTERM / SIGINT → a clean exit 0 within 3 s.

What a user (or the supervisor, or systemd) sees: the process ends with status 0
within three seconds, the ``stop`` event reached the webhook, the state file says
``stop``, the pid file is gone and the cookie file is kept (the next start resumes).
The worker runs as its own process against an in-process simulator and a real
webhook, all on loopback, on the real clock (a process cannot share a fake one).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import trio
from events_webhook import open_webhook

from wechat_sim.testing import open_sim

STOP_WITHIN = 3.0  # seconds, the promise


def _worker_command() -> list[str]:
    script = Path(sys.executable).parent / "openwx-worker"
    if not script.exists():
        pytest.skip("openwx is not installed in this interpreter's environment")
    return [str(script)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_worker_process_stops_cleanly_within_3_seconds(tmp_path, sig):
    tmp = tmp_path / "tmp"
    state_path = tmp / "mojo_weixin_state_p.json"
    log_path = tmp_path / "worker.log"

    def log() -> str:
        return log_path.read_text("utf-8", "replace") if log_path.exists() else ""

    def state() -> str | None:
        try:
            return json.loads(state_path.read_bytes())["state"]
        except (OSError, ValueError, KeyError):
            return None

    async with open_sim(auto_confirm=True) as sim, open_webhook() as hook:
        command = [*_worker_command(), "run", "--account", "p", "--port", "0",
                   "--tmpdir", str(tmp), "--wechat-base", sim.base_url,
                   "--post-api", hook.url, "--data-dir", str(tmp_path / "data"),
                   "--media-dir", str(tmp_path / "media"), "--send-interval", "0",
                   "--qrcode-terminal", "off", "--post-event-list", "login,stop",
                   "--log-path", str(log_path)]
        env = {**os.environ, "OPENWX_CONFIG": ""}
        async with trio.open_nursery() as nursery:
            proc = await nursery.start(partial(
                trio.run_process, command, check=False, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            try:
                with trio.fail_after(60):
                    while state() != "running":  # noqa: ASYNC110 - the file is the signal
                        await trio.sleep(0.05)
                proc.send_signal(sig)
                began = trio.current_time()
                with trio.fail_after(STOP_WITHIN):
                    await proc.wait()
                took = trio.current_time() - began
            finally:
                if proc.returncode is None:
                    proc.kill()
        assert proc.returncode == 0, log()
        assert took < STOP_WITHIN, (took, log())
        events = [r.json().get("event") for r in hook.received]
        assert events[-1] == "stop", events
        assert state() == "stop"
        assert not (tmp / "mojo_weixin_pid_p.pid").exists()
        assert (tmp / "mojo_weixin_cookie_p.dat").exists()
