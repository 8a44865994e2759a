"""The three installed console scripts start and answer ``--help`` (issue 2, layout).

Run as real processes from the environment's bin folder, as a user would type them,
so a broken entry point in pyproject.toml or an import error at start-up shows here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(("script", "words"), [
    ("openwx-worker", ["run", "config"]),
    ("openwx-supervisor", ["start"]),
    ("wechat-sim", ["serve"]),
])
def test_console_script_help(script, words):
    path = BIN / script
    if not path.exists():
        pytest.skip(f"{script} is not installed in this interpreter's environment")
    result = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    for word in words:
        assert word in result.stdout
