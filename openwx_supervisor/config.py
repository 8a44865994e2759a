"""The supervisor's own settings, and which worker options a client may choose.

``SupervisorConfig`` is filled from defaults < TOML file (``--config``) < flags.
Worker options never come from the supervisor's environment: a worker gets
exactly the keys of :func:`client_option_keys` that were given for its client
(start_client parameters, or the ``[worker]`` table of the config file), passed
as flags — the original controller instead turned *every* parameter into an
environment variable and a method call (reference F.3, H.8).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from openwx_worker.config import ConfigError, config_keys, is_loopback, load_config

from .policy import RestartPolicy

#: Worker keys the supervisor decides for every worker: a client cannot set them.
SUPERVISOR_OWNED_KEYS = frozenset({"account", "host", "port", "wechat_base"})

_ACCOUNT = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]


class SupervisorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the supervisor process needs (the TOML file has the same keys)."""

    listen: str = "127.0.0.1:2000"  # host:port of the controller API (port 0: any free port)
    backend_start_port: int = 3000  # first port tried for workers
    tmpdir: str | None = None  # supervisor files, and the workers' default tmpdir
    data_root: str | None = None  # if set, each worker's data_dir defaults to data_root/<account>
    post_api: str | None = None  # default post_api of every client (client=NAME is added)
    wechat_base: str | None = None  # given to every worker (--sim sets it)
    accounts: tuple[_ACCOUNT, ...] = ()  # clients started at start-up (besides persisted ones)
    access_token: str | None = None  # required by the controller API when listen is not loopback
    max_clients: int = 100
    check_interval: float = 5.0  # seconds between health probes of a running worker
    start_timeout: float = 90.0  # a worker must answer its first probe within this
    probe_failures: int = 3  # missed probes in a row before a worker is killed and restarted
    graceful_timeout: float = 10.0  # SIGTERM -> SIGKILL delay
    proxy_timeout: float = 150.0  # longest silence from a worker while proxying (long-polls)
    restart: RestartPolicy = RestartPolicy()
    worker: dict[str, Any] = {}  # default worker options for every client (whitelisted keys)
    worker_command: tuple[str, ...] = ()  # hidden: argv prefix that runs a worker (tests)

    def __post_init__(self) -> None:
        host, _ = split_listen(self.listen)
        if not is_loopback(host) and not self.access_token:
            raise ConfigError(
                f"listen address {host!r} is not loopback, so access_token is required")
        bad = set(self.worker) - client_option_keys()
        if bad:
            raise ConfigError(f"[worker] table: options not allowed: {', '.join(sorted(bad))}")

    @property
    def effective_tmpdir(self) -> str:
        return os.path.abspath(
            self.tmpdir or os.environ.get("MOJO_WEIXIN_TMPDIR") or tempfile.gettempdir())

    @property
    def pid_path(self) -> str:
        return os.path.join(self.effective_tmpdir, "mojo_weixin_controller_process.pid")

    @property
    def clients_path(self) -> str:
        return os.path.join(self.effective_tmpdir, "mojo_weixin_controller_backend.json")


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"listen must be host:port, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def client_option_keys() -> frozenset[str]:
    """The worker options a start_client call may set (every WorkerConfig key not owned by us)."""
    return frozenset(k.name for k in config_keys()) - SUPERVISOR_OWNED_KEYS


class UnknownOptions(ValueError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"unknown or forbidden option(s): {', '.join(names)}")


def check_client_options(name: str, options: dict[str, str]) -> None:
    """Refuse unknown keys, then let the worker's own loader judge the values.

    Raises UnknownOptions or ConfigError (whose message names the bad key).
    """
    unknown = sorted(set(options) - client_option_keys())
    if unknown:
        raise UnknownOptions(unknown)
    load_config(env={}, flags={**options, "account": name})


def load_supervisor_config(file: str | None, flags: dict[str, Any]) -> SupervisorConfig:
    """Defaults < TOML ``file`` < ``flags`` (None values mean "not given")."""
    values: dict[str, Any] = {}
    if file is not None:
        try:
            values.update(tomllib.loads(Path(file).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {file}: {exc}") from None
    values.update({k: v for k, v in flags.items() if v is not None})
    try:
        return msgspec.convert(values, SupervisorConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid supervisor configuration: {exc}") from None
