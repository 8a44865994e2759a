"""Turning a client's options into a running ``openwx-worker run`` process.

Each worker:

* gets its settings as explicit flags (``--key=value`` for whitelisted keys only),
  with ``post_api``/``poll_api`` carrying ``client=NAME`` (reference C.9);
* runs with the supervisor's environment minus every ``OPENWX_*`` and
  ``MOJO_WEIXIN_*`` variable, so nothing reaches it by accident;
* leads its own process group (signals go to the group);
* inherits the read end of the supervisor's *parent pipe* as ``OPENWX_PARENT_FD``
  and exits when it sees end-of-file (``openwx_worker.parent_watch``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import trio

from openwx_worker.parent_watch import PARENT_FD_ENV

from .config import SupervisorConfig

_SCRUBBED_PREFIXES = ("OPENWX_", "MOJO_WEIXIN_")


def default_worker_command() -> tuple[str, ...]:
    """``openwx-worker`` next to our interpreter (a venv), else the module through python."""
    script = Path(sys.executable).with_name("openwx-worker")
    if script.exists():
        return (str(script),)
    return (sys.executable, "-c", "import sys; from openwx_worker.cli import main; sys.exit(main())")


def with_client(url: str, name: str) -> str:
    """``url`` with ``client=name`` merged into its query (replacing any ``client``)."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k != "client"]
    query.append(("client", name))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def flag_text(value: Any) -> str:
    """A typed option value (from TOML) as the string the worker's flag parser reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def effective_options(config: SupervisorConfig, name: str, options: dict[str, str]) -> dict[str, str]:
    """Supervisor defaults, then the client's own options; URLs get ``client=NAME``."""
    merged = {k: flag_text(v) for k, v in config.worker.items()}
    merged.setdefault("tmpdir", config.effective_tmpdir)
    if config.data_root:
        merged.setdefault("data_dir", os.path.join(config.data_root, name))
    if config.post_api:
        merged.setdefault("post_api", config.post_api)
    merged.update(options)
    for key in ("post_api", "poll_api"):
        if merged.get(key):
            merged[key] = with_client(merged[key], name)
    return merged


def worker_argv(config: SupervisorConfig, name: str, options: dict[str, str], port: int) -> list[str]:
    argv = [*(config.worker_command or default_worker_command()), "run",
            "--account", name, "--host", "127.0.0.1", "--port", str(port)]
    if config.wechat_base:
        argv.append(f"--wechat-base={config.wechat_base}")
    for key, value in sorted(effective_options(config, name, options).items()):
        argv.append(f"--{key.replace('_', '-')}={value}")
    return argv


def worker_env(parent_fd: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.pop("NOTIFY_SOCKET", None)  # systemd notifications are the supervisor's alone
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    if parent_fd is not None:
        env[PARENT_FD_ENV] = str(parent_fd)
    return env


class ParentPipe:
    """The pipe whose write end lives as long as the supervisor (see the module docstring)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()  # both non-inheritable by default

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class WorkerLauncher:
    """Spawns real worker processes for the watchers."""

    def __init__(self, config: SupervisorConfig, pipe: ParentPipe | None) -> None:
        self.config = config
        self.pipe = pipe

    async def spawn(self, name: str, options: dict, port: int) -> trio.Process:
        fd = self.pipe.read_fd if self.pipe is not None else None
        return await trio.lowlevel.open_process(
            worker_argv(self.config, name, options, port),
            env=worker_env(fd),
            pass_fds=(fd,) if fd is not None else (),
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
