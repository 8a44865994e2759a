"""Shared pieces of the supervisor tests: a fast configuration and the stand-in worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from openwx_supervisor.config import SupervisorConfig
from openwx_supervisor.policy import RestartPolicy

STANDIN = str(Path(__file__).with_name("standin_worker.py"))

FAST_RESTARTS = RestartPolicy(backoff_initial=0.05, backoff_max=0.4, healthy_reset=60,
                              flap_failures=4, flap_window=60)


def base_port() -> int:
    """Spread concurrent test runs over different port ranges (the allocator skips used ones)."""
    return 20000 + (os.getpid() * 37) % 20000


def fast_config(tmp_path: Path, *, mode: str | None = "serve", **overrides) -> SupervisorConfig:
    """Short intervals; ``mode`` selects the stand-in worker, None the real one."""
    values = dict(
        listen="127.0.0.1:0",
        backend_start_port=base_port(),
        tmpdir=str(tmp_path / "tmp"),
        data_root=str(tmp_path / "data"),
        check_interval=0.2,
        start_timeout=20.0,
        probe_failures=2,
        graceful_timeout=3.0,
        restart=FAST_RESTARTS,
    )
    if mode is not None:
        values["worker_command"] = (sys.executable, STANDIN, "--mode", mode)
    values.update(overrides)
    return SupervisorConfig(**values)
