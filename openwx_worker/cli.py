"""``openwx-worker``: run one account, or show its effective configuration.

Every configuration key is a flag here, generated from ``WorkerConfig``
(``config.config_keys()``), so a key added there is settable on the command line
with no change to this file. Flags are passed to ``load_config`` as strings and
parsed there, like environment values: one parser, one style of error message.
Boolean keys take ``--key``, ``--key=false`` or ``--no-key``, so the supervisor can
always write ``--key=value``.

A bad value prints one line naming the key and exits with status 2; an account
that is already running exits with status 1. Neither shows a traceback.
"""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
import msgspec

from openwx_worker import __version__
from openwx_worker.config import ConfigError, ConfigKey, WorkerConfig, config_keys, load_config

_NEGATED = "no__"  # parameter-name prefix of the generated --no-KEY flags


def _metavar(key: ConfigKey) -> str:
    if key.name.endswith("_api") or key.name == "wechat_base":
        return "URL"
    if key.is_path:
        return "DIRS" if key.type.startswith("list") else "PATH"
    if key.type.startswith("one of "):
        return "[" + "|".join(key.type[7:].split(" (")[0].split(", ")) + "]"
    return {"int": "N", "float": "SECONDS" if "interval" in key.name or "time" in key.name
            else "NUMBER", "list": "A,B,...", "map": "K=V,..."}.get(
        key.type.split(" ")[0], "TEXT")


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config`` and one flag per configuration key to a click command."""
    for key in reversed(config_keys()):
        info = f"{key.description} [default: {key.default_text}; env: {key.env}]"
        if key.type == "bool":
            func = click.option(f"--no-{key.flag[2:]}", f"{_NEGATED}{key.name}", is_flag=True,
                                default=None, help=f"Same as {key.flag}=false.")(func)
            func = click.option(key.flag, key.name, is_flag=False, flag_value="true",
                                default=None, metavar="[BOOL]", help=info)(func)
        else:
            func = click.option(key.flag, key.name, default=None, metavar=_metavar(key),
                                help=info)(func)
    return click.option("--config", "config_file", default=None, metavar="FILE",
                        help="TOML file with configuration keys [env: OPENWX_CONFIG]")(func)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"openwx-worker: error: {message}", err=True)
    sys.exit(code)


def build_config(params: dict[str, Any]) -> WorkerConfig:
    """The effective WorkerConfig from a command's parameters (exits 2 on a bad value)."""
    file = params.pop("config_file", None)
    flags: dict[str, Any] = {}
    for name, value in params.items():
        if name.startswith(_NEGATED):
            if value:
                key = name[len(_NEGATED):]
                if params.get(key) is not None:
                    _fail(f"both --{key.replace('_', '-')} and --no-{key.replace('_', '-')} "
                          "given", 2)
                flags[key] = "false"
        elif value is not None:
            flags[name] = value
    try:
        return load_config(file=file, flags=flags)
    except ConfigError as exc:
        _fail(str(exc), 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="openwx-worker")
def main() -> None:
    """One personal WeChat account behind the Openwx HTTP API."""


@main.command()
@config_options
def run(**params: Any) -> None:
    """Log in to WeChat and serve the Openwx API for one account.

    Settings come from defaults < the --config TOML file < OPENWX_* environment
    variables < these flags. `openwx-worker config --keys` lists every key.
    """
    config = build_config(params)
    from openwx_worker.logging import setup_logging

    setup_logging(config.log_level, account=config.account, log_path=config.log_path)
    # Imported here: `--help` and `config` need neither trio nor the protocol client.
    import trio

    from openwx_worker.state import AlreadyRunning

    runtime = importlib.import_module("openwx_worker.runtime")  # via sys.modules: tests swap it
    try:
        code = trio.run(runtime.run_worker, config)
    except AlreadyRunning as exc:
        _fail(str(exc), 1)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            _fail(f"cannot listen on {config.host}:{config.port}: address already in use", 1)
        raise
    sys.exit(code if isinstance(code, int) else 0)


@main.command(name="config")
@click.option("--keys", "list_keys", is_flag=True,
              help="List every key with its type, default, environment variable and flag.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True, help="Output format of --keys.")
@config_options
def config_command(list_keys: bool, fmt: str, **params: Any) -> None:
    """Print the effective configuration as JSON (or, with --keys, every key)."""
    if list_keys:
        click.echo(format_keys(fmt), nl=False)
        return
    config = build_config(params)
    data = config.to_dict()
    for key in config_keys():
        if key.is_secret and data[key.name] is not None:
            data[key.name] = "(set)"  # a terminal or a CI log is no place for a token
    click.echo(msgspec.json.format(msgspec.json.encode(data), indent=2))


def format_keys(fmt: str = "text") -> str:
    """Every configuration key as a text table, a Markdown table or JSON."""
    keys = config_keys()
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(keys), indent=2).decode() + "\n"
    if fmt == "markdown":
        lines = ["| key | type | default | environment | flag | meaning |",
                 "|---|---|---|---|---|---|"]
        lines += [f"| `{k.name}` | {k.type} | `{k.default_text}` | `{k.env}` | `{k.flag}` | "
                  f"{k.description} |" for k in keys]
        return "\n".join(lines) + "\n"
    out = []
    for k in keys:
        out.append(f"{k.name}  ({k.type}; default: {k.default_text})\n"
                   f"    env {k.env}, flag {k.flag}\n    {k.description}\n")
    return "".join(out)


if __name__ == "__main__":
    main()
