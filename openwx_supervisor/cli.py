"""``openwx-supervisor``: run many accounts (``start``), look at them (``status``), stop them.

``start`` runs in the foreground and logs to stderr, as systemd (Type=notify) and
containers expect; SIGTERM or Ctrl-C stops every worker and exits 0. ``status``
and ``stop`` talk to a running supervisor: ``status`` through its API
(check_client), ``stop`` through its pid file (SIGTERM).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from typing import Any, NoReturn

import click
import trio

from openwx_worker.config import ConfigError

from .config import SupervisorConfig, load_supervisor_config, split_listen
from .watcher import pid_alive

log = logging.getLogger("openwx_supervisor")


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"openwx-supervisor: error: {message}", err=True)
    sys.exit(code)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s [%(levelname)s] [supervisor] %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S")


def _config(config_file: str | None, **flags: Any) -> SupervisorConfig:
    try:
        return load_supervisor_config(config_file, flags)
    except ConfigError as exc:
        _fail(str(exc), 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Run many WeChat accounts, one openwx-worker process each, behind one API."""


@main.command()
@click.option("--accounts", default=None, metavar="A,B,...",
              help="Accounts (client names) to start, besides those saved from the last run.")
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="Address of the controller API [default: 127.0.0.1:2000].")
@click.option("--backend-start-port", type=int, default=None, metavar="N",
              help="First port tried for workers [default: 3000].")
@click.option("--tmpdir", default=None, metavar="DIR",
              help="Supervisor files, and the workers' default tmpdir "
                   "[default: $MOJO_WEIXIN_TMPDIR or the system temp dir].")
@click.option("--post-api", default=None, metavar="URL",
              help="Default post_api of every client (client=NAME is added).")
@click.option("--wechat-base", default=None, metavar="URL",
              help="Send every worker's WeChat traffic to this base URL (e.g. a wechat_sim).")
@click.option("--sim", is_flag=True, help="Start an embedded wechat_sim (auto-confirm) and use it.")
@click.option("--access-token", default=None, metavar="TOKEN",
              help="Token the controller API requires (mandatory if --listen is not loopback).")
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="TOML file with supervisor keys (and a [worker] table of worker options).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def start(accounts: str | None, config_file: str | None, sim: bool, log_level: str,
          **flags: Any) -> None:
    """Start the supervisor in the foreground."""
    _setup_logging(log_level)
    if accounts is not None:
        flags["accounts"] = [a.strip() for a in accounts.split(",") if a.strip()]
    config = _config(config_file, **flags)
    from openwx_worker.parent_watch import set_process_name

    from .server import AlreadyRunning, run_supervisor

    set_process_name("openwx-sup")  # ps -o comm, top; the workers name themselves "wx:NAME"

    async def _main() -> None:
        if not sim:
            await run_supervisor(config)
            return
        from .sim import open_embedded_sim

        async with open_embedded_sim(len(config.accounts)) as base:
            log.info("embedded wechat_sim at %s", base)
            import msgspec

            # the simulator's phones confirm by themselves: no QR code in the terminal
            worker = {"qrcode_terminal": False, **config.worker}
            await run_supervisor(msgspec.structs.replace(config, wechat_base=base, worker=worker))

    try:
        trio.run(_main)
    except AlreadyRunning as exc:
        _fail(str(exc), 1)
    except OSError as exc:
        _fail(f"cannot start: {exc}", 1)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


def _base_url(listen: str) -> str:
    host, port = split_listen(listen)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _format_uptime(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    d, rest = divmod(int(seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}d{h:02d}h" if d else f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def format_table(entries: list[dict[str, Any]]) -> str:
    """The status table: one line per account."""
    head = ("ACCOUNT", "STATE", "WORKER", "PID", "PORT", "UPTIME", "RESTARTS")
    rows = [head] + [(
        str(e.get("client", "?")), str(e.get("supervisor_state", "?")), str(e.get("state", "-")),
        str(e.get("pid") or "-"), str(e.get("port") or "-"), _format_uptime(e.get("uptime")),
        str(e.get("restarts", 0)),
    ) for e in sorted(entries, key=lambda e: str(e.get("client")))]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


@main.command()
@click.option("--listen", default=None, metavar="HOST:PORT", help="The supervisor's address.")
@click.option("--access-token", default=None, metavar="TOKEN")
@click.option("--config", "config_file", default=None, metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print check_client's JSON.")
def status(listen: str | None, access_token: str | None, config_file: str | None,
           as_json: bool) -> None:
    """Show every account: supervisor state, worker state, pid, port, uptime, restarts."""
    config = _config(config_file, listen=listen, access_token=access_token)
    import httpx  # only here: the running supervisor does not need httpx

    headers = {"Authorization": f"Bearer {config.access_token}"} if config.access_token else {}
    try:
        reply = httpx.get(f"{_base_url(config.listen)}/openwx/check_client", headers=headers,
                          timeout=10, trust_env=False)
        data = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        _fail(f"no supervisor answers at {config.listen}: {exc}", 1)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))
        return
    if data.get("code") != 0:
        _fail(f"check_client: {data.get('status')}", 1)
    click.echo(format_table(data.get("client", [])))


@main.command()
@click.option("--tmpdir", default=None, metavar="DIR", help="The supervisor's tmpdir.")
@click.option("--config", "config_file", default=None, metavar="FILE")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the exit.")
def stop(tmpdir: str | None, config_file: str | None, timeout: float) -> None:
    """Stop a running supervisor (SIGTERM) and wait until it has stopped its workers."""
    config = _config(config_file, tmpdir=tmpdir)
    try:
        with open(config.pid_path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        _fail(f"no supervisor pid file at {config.pid_path}", 1)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        _fail(f"supervisor pid {pid} is not running (stale {config.pid_path})", 1)
    except PermissionError:
        _fail(f"pid {pid} of {config.pid_path} is not ours to stop", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            click.echo(f"supervisor {pid} stopped")
            return
        time.sleep(0.1)
    _fail(f"supervisor {pid} still running after {timeout:g} s", 1)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its parent counts as gone)."""
    if not pid_alive(pid):  # (we could signal it a moment ago: not someone else's)
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


if __name__ == "__main__":
    main()
