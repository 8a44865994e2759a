"""The worker's configuration: one ``WorkerConfig`` and the loader that fills it.

Sources, lowest precedence first::

    defaults  <  TOML file (--config / OPENWX_CONFIG)  <  OPENWX_* environment  <  flags

Every key of ``WorkerConfig`` is settable in all four places under derived names:
key ``post_api`` is ``post_api = "..."`` in the file, ``OPENWX_POST_API`` in the
environment and ``--post-api`` on the command line. Adding a key is adding one field
below; the loader, the CLI flags, ``openwx-worker config --keys`` and the
supervisor's whitelist (``config_keys()``) all follow.

Why our own names and not Mojo::Weixin's ``MOJO_WEIXIN_*`` variables: Mojo applied
its environment *after* constructor arguments and called any method whose name
matched (reference E, a security hole). Here only declared keys are read and the
precedence is the usual one. ``MOJO_WEIXIN_TMPDIR`` is still honoured as the default
tmpdir, because the API document names it.

Strings from the environment or flags are parsed per type: booleans accept
``1/0/true/false/yes/no/on/off``, lists are comma-separated, maps are
``key=value,key=value``; an empty environment variable counts as unset. Any bad
value raises ``ConfigError`` naming the key and where the value came from.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import platformdirs
from msgspec import Meta

ENV_PREFIX = "OPENWX_"
CONFIG_FILE_ENV = "OPENWX_CONFIG"
MOJO_TMPDIR_ENV = "MOJO_WEIXIN_TMPDIR"

#: The API document's default post_event_list (openwx-api.zh.md, 事件上报).
DEFAULT_POST_EVENT_LIST: tuple[str, ...] = (
    "login", "stop", "state_change", "input_qrcode", "new_group", "new_friend",
    "new_group_member", "lose_group", "lose_friend", "lose_group_member", "friend_request",
)

_URL = Annotated[str, Meta(pattern=r"^https?://[^\s/]+")]  # an http(s) URL with a host
_PATH = {"path": True}  # Meta.extra marker: expand ~, make absolute (file-relative in TOML)
_SECRET = {"secret": True}  # Meta.extra marker: never printed by `openwx-worker config`


class ConfigError(Exception):
    """A configuration value is invalid; the message names the key and its source."""


class WorkerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything one worker process needs; immutable once loaded.

    Directory keys left unset are resolved when the object is built: ``tmpdir`` to
    the system temp dir, ``data_dir`` to platformdirs' user data dir plus the
    account, ``media_dir`` to ``data_dir/media``. After construction every path
    key holds an absolute path string.
    """

    # --- identity and listening --------------------------------------------------
    account: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", description="Instance name used in file names (not a WeChat id); letters, digits, _ . @ -")] = "default"
    host: Annotated[str, Meta(min_length=1, description="Listen address of the Openwx API; a non-loopback address requires access_token")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="Listen port of the Openwx API (0 = any free port)")] = 3000
    access_token: Annotated[str | None, Meta(description="Token required by the API (Authorization: Bearer or access_token parameter)", extra=_SECRET)] = None

    # --- files -------------------------------------------------------------------
    tmpdir: Annotated[str | None, Meta(description="Folder for the state, pid, cookie and QR code files", extra={**_PATH, "default_text": "$MOJO_WEIXIN_TMPDIR or the system temp dir"})] = None
    data_dir: Annotated[str | None, Meta(description="Folder for durable data (event database, outbox)", extra={**_PATH, "default_text": "platformdirs user data dir/openwx/<account>"})] = None
    media_dir: Annotated[str | None, Meta(description="Folder where received media and avatars are saved", extra={**_PATH, "default_text": "<data_dir>/media"})] = None
    media_allowed_dirs: Annotated[tuple[str, ...], Meta(description="Extra folders from which media_path may read local files (media_dir is always allowed)", extra=_PATH)] = ()
    keep_cookie: Annotated[bool, Meta(description="Save the session in the cookie file so a restart logs in without a QR scan")] = True

    # --- the WeChat side -----------------------------------------------------------
    wechat_base: Annotated[_URL | None, Meta(description="Send every WeChat host to this base URL (e.g. a wechat_sim); unset = the real hosts over HTTPS")] = None
    login_variant: Annotated[Literal["web", "uos"], Meta(description="Login flavour: web (plain web WeChat) or uos (desktop variant)")] = "web"
    qrcode_count_max: Annotated[int, Meta(ge=1, description="Stop after this many QR codes expired without a login")] = 10
    qrcode_terminal: Annotated[bool, Meta(description="Also print the QR code in the terminal (stderr)")] = True
    stop_with_mobile: Annotated[bool, Meta(description="Stop instead of re-logging in when the phone logs the web session out")] = False
    send_interval: Annotated[float, Meta(ge=0, description="Minimum seconds between two outgoing messages (0 = no pacing)")] = 3.0
    download_media: Annotated[bool, Meta(description="Download received media into media_dir before reporting the message")] = True
    emoji_to_text: Annotated[bool, Meta(description="Turn emoji into [name] text; false keeps real Unicode emoji")] = True
    media_size_max: Annotated[int, Meta(ge=1, description="Largest media file, in bytes, accepted for sending or fetching from a URL")] = 20 * 1024 * 1024
    media_fetch_timeout: Annotated[float, Meta(gt=0, description="Seconds allowed to fetch a media_path URL")] = 60.0

    # --- event delivery ------------------------------------------------------------
    post_api: Annotated[_URL | None, Meta(description="URL that receives every message and event as a JSON POST")] = None
    post_event: Annotated[bool, Meta(description="Report events at all (to post_api and check_event)")] = True
    post_event_list: Annotated[tuple[str, ...], Meta(description="Events that are reported (replaces the default list)")] = DEFAULT_POST_EVENT_LIST
    post_media_data: Annotated[bool, Meta(description="Include media_data (base64) in media message reports")] = True
    post_message_filter: Annotated[dict[str, str], Meta(description="Only report messages whose listed fields have these values (key=value,...)")] = {}
    post_stdout: Annotated[bool, Meta(description="Also print every report as one JSON line on stdout")] = False
    post_secret: Annotated[str | None, Meta(description="Sign every POST with HMAC-SHA256 of its body using this secret", extra=_SECRET)] = None
    poll_api: Annotated[_URL | None, Meta(description="Heartbeat/tunnel URL polled while running (302 Location is called locally)")] = None
    poll_interval: Annotated[float, Meta(ge=0, description="Seconds between two poll_api requests (0 = 5, as Mojo::Weixin)")] = 5.0
    check_event_list_max_size: Annotated[int, Meta(ge=0, description="Items kept for check_event (0 = 20, as Mojo::Weixin)")] = 20
    outbox_max_age: Annotated[float, Meta(gt=0, description="Seconds an undelivered report is kept before it is dropped (and logged)")] = 7 * 24 * 3600.0
    outbox_max_count: Annotated[int, Meta(ge=1, description="Undelivered reports kept at most; the oldest are dropped (and logged)")] = 100_000
    post_connect_timeout: Annotated[float, Meta(gt=0, description="Seconds allowed to connect to post_api (Mojo::Weixin: 10)")] = 10.0
    post_timeout: Annotated[float, Meta(gt=0, description="Seconds allowed for one post_api request (Mojo::Weixin: 35)")] = 35.0
    post_retry_base: Annotated[float, Meta(gt=0, description="First delay, in seconds, before a failed post_api delivery is retried (doubles per failure)")] = 0.5
    post_retry_max: Annotated[float, Meta(gt=0, description="Longest delay, in seconds, between two post_api delivery retries")] = 60.0
    seen_msg_id_max: Annotated[int, Meta(ge=1, description="WeChat MsgIds remembered to recognise messages WeChat delivers again (after a re-login or restart)")] = 50_000

    # --- logging -------------------------------------------------------------------
    log_level: Annotated[Literal["debug", "info", "msg", "warn", "warning", "error", "fatal"], Meta(description="Log level (Mojo::Weixin names: debug, info, msg, warn, error, fatal)")] = "info"
    log_path: Annotated[str | None, Meta(description="Log file; unset = stderr", extra=_PATH)] = None

    def __post_init__(self) -> None:
        tmpdir = self.tmpdir or tempfile.gettempdir()
        data_dir = self.data_dir or os.path.join(
            platformdirs.user_data_dir("openwx", appauthor=False), self.account)
        media_dir = self.media_dir or os.path.join(data_dir, "media")
        msgspec.structs.force_setattr(self, "tmpdir", os.path.abspath(tmpdir))
        msgspec.structs.force_setattr(self, "data_dir", os.path.abspath(data_dir))
        msgspec.structs.force_setattr(self, "media_dir", os.path.abspath(media_dir))
        # Mojo::Weixin reads 0 as "use the default" for these two.
        if self.poll_interval == 0:
            msgspec.structs.force_setattr(self, "poll_interval", 5.0)
        if self.check_event_list_max_size == 0:
            msgspec.structs.force_setattr(self, "check_event_list_max_size", 20)
        if not is_loopback(self.host) and not self.access_token:
            raise ConfigError(
                f"host {self.host!r} is not a loopback address, so access_token is required "
                "(set OPENWX_ACCESS_TOKEN or --access-token), or listen on 127.0.0.1")

    @property
    def allowed_media_dirs(self) -> tuple[str, ...]:
        """Folders local media_path reads are confined to: media_dir plus the extras."""
        return (typing.cast(str, self.media_dir), *self.media_allowed_dirs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (secrets included; see ``config_keys()`` ``is_secret``)."""
        return msgspec.to_builtins(self)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses no other machine reaches."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- introspection -------------------------------------------------------------------


class ConfigKey(msgspec.Struct, frozen=True):
    """One configuration key as documented: name, type, default and its three spellings."""

    name: str
    type: str
    default: Any
    default_text: str
    env: str
    flag: str
    description: str
    is_path: bool
    is_secret: bool


class _Kind(msgspec.Struct, frozen=True):
    optional: bool
    base: str  # bool, int, float, str, literal, list, map


def _kind(t: Any) -> _Kind:
    if isinstance(t, msgspec.inspect.Metadata):
        return _kind(t.type)
    if isinstance(t, msgspec.inspect.UnionType):
        rest = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        return _Kind(True, _kind(rest[0]).base)
    names = {
        msgspec.inspect.BoolType: "bool", msgspec.inspect.IntType: "int",
        msgspec.inspect.FloatType: "float", msgspec.inspect.StrType: "str",
        msgspec.inspect.LiteralType: "literal", msgspec.inspect.VarTupleType: "list",
        msgspec.inspect.ListType: "list", msgspec.inspect.DictType: "map",
    }
    return _Kind(False, names[type(t)])


def _type_text(t: Any, hint: Any) -> str:
    kind = _kind(t)
    if kind.base == "literal":
        while typing.get_origin(hint) is not Literal:
            hint = typing.get_args(hint)[0]  # through Annotated and Optional
        text = "one of " + ", ".join(map(str, typing.get_args(hint)))
    else:
        text = {"list": "list of str", "map": "map str=str"}.get(kind.base, kind.base)
    return text + (" (optional)" if kind.optional else "")


def _build_keys() -> tuple[dict[str, Any], dict[str, _Kind], tuple[ConfigKey, ...]]:
    hints = typing.get_type_hints(WorkerConfig, include_extras=True)
    kinds: dict[str, _Kind] = {}
    keys = []
    for f in msgspec.inspect.type_info(WorkerConfig).fields:
        meta = f.type if isinstance(f.type, msgspec.inspect.Metadata) else None
        extra = (meta.extra or {}) if meta else {}
        schema = (meta.extra_json_schema or {}) if meta else {}
        default = f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
        kinds[f.name] = _kind(f.type)
        keys.append(ConfigKey(
            name=f.name, type=_type_text(f.type, hints[f.name]), default=msgspec.json.decode(msgspec.json.encode(default)),
            default_text=extra.get("default_text") or _default_text(default),
            env=ENV_PREFIX + f.name.upper(), flag="--" + f.name.replace("_", "-"),
            description=schema.get("description", ""), is_path=bool(extra.get("path")),
            is_secret=bool(extra.get("secret")),
        ))
    return {k: hints[k] for k in kinds}, kinds, tuple(keys)


def _default_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or "empty"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "empty"
    return str(value)


_TYPES, _KINDS, _KEYS = _build_keys()  # static facts about the Struct, computed once


def config_keys() -> tuple[ConfigKey, ...]:
    """Every key with its type, default, env name, flag and description, in order."""
    return _KEYS


# --- loading ---------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_FRIENDLY = {
    "Expected `int`, got `str`": "expected an integer",
    "Expected `float`, got `str`": "expected a number",
    "Expected `int`, got `float`": "expected an integer",
}


def load_config(*, file: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None,
                flags: Mapping[str, Any] | None = None) -> WorkerConfig:
    """Build the effective WorkerConfig from a TOML file, the environment and flags.

    ``env`` defaults to ``os.environ``; ``OPENWX_CONFIG`` in it names the file when
    ``file`` is not given. ``flags`` maps key names to values; None means "not
    given" and strings are parsed like environment values. Raises ConfigError.
    """
    env = os.environ if env is None else env
    raw: dict[str, tuple[Any, str]] = {}
    if env.get(MOJO_TMPDIR_ENV):
        raw["tmpdir"] = (env[MOJO_TMPDIR_ENV], f"environment variable {MOJO_TMPDIR_ENV}")
    file = file or env.get(CONFIG_FILE_ENV) or None
    base_dir = None
    if file is not None:
        file_path = Path(file).expanduser()
        base_dir = file_path.absolute().parent
        for key, value in _read_toml(file_path).items():
            raw[key] = (value, f"config file {file_path}")
    for key in _KINDS:
        name = ENV_PREFIX + key.upper()
        if env.get(name, "") != "":
            raw[key] = (env[name], f"environment variable {name}")
    for key, value in (flags or {}).items():
        if key not in _KINDS:
            raise ConfigError(f"unknown configuration key {key!r}")
        if value is not None:
            raw[key] = (value, f"flag --{key.replace('_', '-')}")

    values = {}
    for key, (value, source) in raw.items():
        relative_to = base_dir if source.startswith("config file") else None
        values[key] = _convert(key, value, source, relative_to)
    try:
        return msgspec.convert(values, WorkerConfig)
    except ConfigError as exc:  # a rule across keys (__post_init__): say where host came from
        where = raw.get("host", (None, "the default"))[1]
        raise ConfigError(f"{exc} [host from {where}]") from None
    except msgspec.ValidationError as exc:  # cannot happen after _convert; kept as a net
        raise ConfigError(f"invalid configuration: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key in data:
        if key not in _KINDS:
            raise ConfigError(f"unknown key {key!r} in config file {path}"
                              f" (known keys: openwx-worker config --keys)")
    return data


def _convert(key: str, value: Any, source: str, relative_to: Path | None) -> Any:
    """Turn one raw value into the key's type, or raise ConfigError naming it."""
    kind = _KINDS[key]
    try:
        if isinstance(value, str) and (kind.base != "str" or value == ""):
            value = _parse_string(kind, value)
        out = msgspec.convert(value, _TYPES[key], strict=not isinstance(value, str))
    except (msgspec.ValidationError, ValueError) as exc:
        reason = _FRIENDLY.get(str(exc), str(exc))
        raise ConfigError(f"invalid value for {key} from {source}: {value!r}: {reason}") from None
    if out is not None and _KEY_BY_NAME[key].is_path:
        out = _absolute(out, relative_to)
    return out


def _parse_string(kind: _Kind, text: str) -> Any:
    text = text.strip()
    if text == "" and kind.optional:
        return None
    if kind.base == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected a boolean: 1/0, true/false, yes/no or on/off")
    if kind.base == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    if kind.base == "map":
        pairs = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, val = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"expected key=value pairs separated by commas, got {item!r}")
            pairs[name.strip()] = val.strip()
        return pairs
    return text


def _absolute(value: Any, relative_to: Path | None) -> Any:
    if isinstance(value, tuple):
        return tuple(_absolute(v, relative_to) for v in value)
    path = Path(value).expanduser()
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return os.path.abspath(path)


_KEY_BY_NAME = {k.name: k for k in _KEYS}
