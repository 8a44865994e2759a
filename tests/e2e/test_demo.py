"""The README's first command works: ``scripts/demo --check`` end to end.

Runs the demo's driver with this interpreter (the wrapper ``scripts/demo`` only
creates the venv and installs): a real supervisor with two real workers on the
embedded simulator, a real webhook. The driver itself checks that a contact's
message reaches the webhook, that an API send is answered and reported, that the
webhook's ``{"reply": "pong"}`` reaches the contact, and that ``check_event`` with
a cursor answers the same reports. This test adds that nothing is left running.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.mark.slow
def test_demo_check_reaches_two_running_accounts_and_shows_events() -> None:
    if not (Path(sys.executable).parent / "openwx-supervisor").exists():
        pytest.skip("openwx is not installed in this interpreter's environment")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--check"],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "demo check passed" in out
    assert re.search(r"\[alice\] #\d+ receive_message friend_message <- .*: hi Alice", out), out
    assert re.search(r"\[alice\] #\d+ send_message friend_message -> .*: pong", out), out
    pids = [int(p) for p in re.findall(r"\(pid (\d+), port \d+\)", out)]
    assert len(pids) == 2, out
    assert not [p for p in pids if _alive(p)], "a worker outlived the demo"
