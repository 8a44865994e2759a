"""The unit files say what the supervisor does (notify, watchdog, restart) and are valid."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openwx_supervisor.config import SupervisorConfig

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNITS / name)
    return parser


def test_supervisor_unit_uses_notify_watchdog_and_restart():
    service = unit("openwx-supervisor.service")["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert "openwx-supervisor start" in service["ExecStart"]
    # long enough for the supervisor's own SIGTERM -> graceful_timeout -> SIGKILL of workers
    assert int(service["TimeoutStopSec"]) > SupervisorConfig().graceful_timeout
    # systemd must not kill the workers before the supervisor has stopped them itself
    assert service["KillMode"] == "mixed" and service["NotifyAccess"] == "main"


def test_worker_template_runs_one_account():
    parsed = unit("openwx-worker@.service")
    assert "--account %i" in parsed["Service"]["ExecStart"]
    assert parsed["Service"]["Restart"] == "on-failure"
    assert "StartLimitBurst" in parsed["Unit"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    bindir = str(Path(sys.executable).parent) + "/"
    for name in ("openwx-supervisor.service", "openwx-worker@.service"):
        text = (UNITS / name).read_text().replace("/opt/openwx/.venv/bin/", bindir)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "./openwx-supervisor.service", "./openwx-worker@bot1.service"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr and "ignoring" not in result.stderr.lower(), result.stderr
