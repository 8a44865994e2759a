"""WorkerConfig: defaults, the four sources and their precedence, and error messages."""

from __future__ import annotations

import os
import tempfile

import msgspec
import platformdirs
import pytest

from openwx_worker.config import (
    DEFAULT_POST_EVENT_LIST,
    ConfigError,
    WorkerConfig,
    config_keys,
    is_loopback,
    load_config,
)

# The API document's default post_event_list, copied here on purpose (a spec check).
DOC_EVENT_LIST = ["login", "stop", "state_change", "input_qrcode", "new_group", "new_friend",
                  "new_group_member", "lose_group", "lose_friend", "lose_group_member",
                  "friend_request"]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_documents():
    c = load_config(env={})
    assert (c.account, c.host, c.port) == ("default", "127.0.0.1", 3000)
    assert c.post_event is True and c.post_media_data is True
    assert list(c.post_event_list) == DOC_EVENT_LIST == list(DEFAULT_POST_EVENT_LIST)
    assert (c.poll_interval, c.check_event_list_max_size, c.qrcode_count_max) == (5, 20, 10)
    assert c.send_interval == 3.0  # Mojo::Weixin's default
    assert c.login_variant == "web" and c.keep_cookie and c.download_media and c.emoji_to_text
    assert c.stop_with_mobile is False and c.post_stdout is False
    assert c.post_api is None and c.poll_api is None and c.access_token is None
    assert c.wechat_base is None and c.log_level == "info"


def test_directories_are_resolved():
    c = load_config(env={})
    assert c.tmpdir == os.path.abspath(tempfile.gettempdir())
    expected_data = os.path.join(platformdirs.user_data_dir("openwx", appauthor=False), "default")
    assert c.data_dir == os.path.abspath(expected_data)
    assert c.media_dir == os.path.join(c.data_dir, "media")
    assert c.allowed_media_dirs == (c.media_dir,)
    # data_dir follows the account
    assert load_config(env={"OPENWX_ACCOUNT": "bot1"}).data_dir.endswith(os.sep + "bot1")


def test_direct_construction_resolves_too(tmp_path):
    c = WorkerConfig(account="a", tmpdir=str(tmp_path), data_dir=str(tmp_path / "d"))
    assert c.media_dir == str(tmp_path / "d" / "media")


def test_mojo_tmpdir_env_is_the_default_tmpdir(tmp_path):
    mojo, ours = tmp_path / "mojo", tmp_path / "ours"
    assert load_config(env={"MOJO_WEIXIN_TMPDIR": str(mojo)}).tmpdir == str(mojo)
    env = {"MOJO_WEIXIN_TMPDIR": str(mojo), "OPENWX_TMPDIR": str(ours)}
    assert load_config(env=env).tmpdir == str(ours)
    cfg = write(tmp_path / "c.toml", f'tmpdir = "{tmp_path / "file"}"\n')
    assert load_config(file=cfg, env={"MOJO_WEIXIN_TMPDIR": str(mojo)}).tmpdir == str(
        tmp_path / "file")


def test_precedence_defaults_file_env_flags(tmp_path):
    cfg = write(tmp_path / "c.toml", 'port = 3001\npost_api = "http://file/x"\n'
                                     'send_interval = 1\naccount = "fromfile"\n')
    env = {"OPENWX_PORT": "3002", "OPENWX_POST_API": "http://env/x"}
    flags = {"port": "3003"}
    assert load_config(env={}).port == 3000
    c1 = load_config(file=cfg, env={})
    assert (c1.port, c1.post_api, c1.send_interval, c1.account) == (3001, "http://file/x", 1.0,
                                                                     "fromfile")
    c2 = load_config(file=cfg, env=env)
    assert (c2.port, c2.post_api, c2.account) == (3002, "http://env/x", "fromfile")
    c3 = load_config(file=cfg, env=env, flags=flags)
    assert (c3.port, c3.post_api, c3.send_interval) == (3003, "http://env/x", 1.0)
    # None in flags means "not given"
    assert load_config(file=cfg, env=env, flags={"port": None}).port == 3002


def test_config_file_from_openwx_config_env(tmp_path):
    cfg = write(tmp_path / "c.toml", "port = 4000\n")
    assert load_config(env={"OPENWX_CONFIG": str(cfg)}).port == 4000


def test_empty_env_string_means_unset(tmp_path):
    cfg = write(tmp_path / "c.toml", 'port = 3001\npost_api = "http://file/x"\n')
    c = load_config(file=cfg, env={"OPENWX_PORT": "", "OPENWX_POST_API": ""})
    assert (c.port, c.post_api) == (3001, "http://file/x")


def test_empty_flag_clears_an_optional_key(tmp_path):
    cfg = write(tmp_path / "c.toml", 'post_api = "http://file/x"\n')
    assert load_config(file=cfg, env={}, flags={"post_api": ""}).post_api is None


@pytest.mark.parametrize("text,value", [
    ("1", True), ("0", False), ("true", True), ("False", False), ("yes", True), ("no", False),
    ("on", True), ("OFF", False), (" 1 ", True),
])
def test_env_booleans(text, value):
    assert load_config(env={"OPENWX_DOWNLOAD_MEDIA": text}).download_media is value


def test_env_lists_maps_and_numbers():
    c = load_config(env={
        "OPENWX_POST_EVENT_LIST": "login, stop,,state_change ",
        "OPENWX_POST_MESSAGE_FILTER": "class=recv, type=friend_message",
        "OPENWX_SEND_INTERVAL": "0",
        "OPENWX_POLL_INTERVAL": "2.5",
        "OPENWX_LOGIN_VARIANT": "uos",
    })
    assert c.post_event_list == ("login", "stop", "state_change")
    assert c.post_message_filter == {"class": "recv", "type": "friend_message"}
    assert c.send_interval == 0.0 and c.poll_interval == 2.5 and c.login_variant == "uos"


def test_toml_native_types(tmp_path):
    cfg = write(tmp_path / "c.toml", 'post_event_list = ["login"]\ndownload_media = false\n'
                                     '[post_message_filter]\nclass = "recv"\n')
    c = load_config(file=cfg, env={})
    assert c.post_event_list == ("login",) and c.download_media is False
    assert c.post_message_filter == {"class": "recv"}


def test_zero_means_default_for_mojo_options():
    c = load_config(env={"OPENWX_POLL_INTERVAL": "0", "OPENWX_CHECK_EVENT_LIST_MAX_SIZE": "0"})
    assert (c.poll_interval, c.check_event_list_max_size) == (5.0, 20)


def test_paths_in_file_are_relative_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    cfg = write(tmp_path / "conf" / "c.toml", 'tmpdir = "run"\nmedia_allowed_dirs = ["pics"]\n')
    c = load_config(file=cfg, env={})
    assert c.tmpdir == str(tmp_path / "conf" / "run")
    assert c.media_allowed_dirs == (str(tmp_path / "conf" / "pics"),)
    monkeypatch.chdir(tmp_path)
    assert load_config(env={"OPENWX_TMPDIR": "rel"}).tmpdir == str(tmp_path / "rel")
    home = os.path.expanduser("~")
    assert load_config(env={"OPENWX_LOG_PATH": "~/w.log"}).log_path == os.path.join(home, "w.log")


@pytest.mark.parametrize("env,words", [
    ({"OPENWX_PORT": "abc"}, ["port", "OPENWX_PORT", "'abc'", "integer"]),
    ({"OPENWX_PORT": "70000"}, ["port", "OPENWX_PORT", "65535"]),
    ({"OPENWX_SEND_INTERVAL": "-1"}, ["send_interval", "OPENWX_SEND_INTERVAL"]),
    ({"OPENWX_POLL_INTERVAL": "soon"}, ["poll_interval", "number"]),
    ({"OPENWX_KEEP_COOKIE": "maybe"}, ["keep_cookie", "boolean"]),
    ({"OPENWX_LOG_LEVEL": "loud"}, ["log_level", "loud"]),
    ({"OPENWX_LOGIN_VARIANT": "ipad"}, ["login_variant", "ipad"]),
    ({"OPENWX_ACCOUNT": "../etc"}, ["account", "OPENWX_ACCOUNT"]),
    ({"OPENWX_POST_API": "ftp://x"}, ["post_api", "OPENWX_POST_API"]),
    ({"OPENWX_POST_MESSAGE_FILTER": "nonsense"}, ["post_message_filter", "key=value"]),
    ({"OPENWX_QRCODE_COUNT_MAX": "0"}, ["qrcode_count_max"]),
])
def test_env_errors_name_key_and_source(env, words):
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    message = str(info.value)
    assert "environment variable" in message
    for word in words:
        assert word in message


def test_file_errors(tmp_path):
    bad_type = write(tmp_path / "a.toml", "port = [1]\n")
    with pytest.raises(ConfigError, match=r"invalid value for port from config file .*a\.toml"):
        load_config(file=bad_type, env={})
    unknown = write(tmp_path / "b.toml", "port = 1\nprot = 2\n")
    with pytest.raises(ConfigError, match=r"unknown key 'prot' in config file .*b\.toml"):
        load_config(file=unknown, env={})
    broken = write(tmp_path / "c.toml", "port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(file=broken, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(file=tmp_path / "missing.toml", env={})


def test_flag_errors():
    with pytest.raises(ConfigError, match=r"invalid value for port from flag --port: 'x'"):
        load_config(env={}, flags={"port": "x"})
    with pytest.raises(ConfigError, match="unknown configuration key 'nope'"):
        load_config(env={}, flags={"nope": "1"})


def test_non_loopback_host_requires_access_token():
    with pytest.raises(ConfigError) as info:
        load_config(env={"OPENWX_HOST": "0.0.0.0"})
    assert "access_token" in str(info.value) and "OPENWX_HOST" in str(info.value)
    with pytest.raises(ConfigError):
        WorkerConfig(host="192.168.1.5")
    c = load_config(env={"OPENWX_HOST": "0.0.0.0", "OPENWX_ACCESS_TOKEN": "s3cret"})
    assert c.host == "0.0.0.0" and c.access_token == "s3cret"
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
        assert load_config(env={"OPENWX_HOST": host}).host == host
    assert not is_loopback("example.com") and not is_loopback("::")


def test_config_keys_cover_every_field_with_three_spellings():
    keys = config_keys()
    assert [k.name for k in keys] == list(WorkerConfig.__struct_fields__)
    for k in keys:
        assert k.env == "OPENWX_" + k.name.upper()
        assert k.flag == "--" + k.name.replace("_", "-")
        assert k.description, k.name
        assert k.default_text
    by_name = {k.name: k for k in keys}
    assert by_name["port"].default == 3000 and by_name["port"].type == "int"
    assert by_name["post_event_list"].default == DOC_EVENT_LIST
    assert by_name["login_variant"].type == "one of web, uos"
    assert by_name["tmpdir"].is_path and "MOJO_WEIXIN_TMPDIR" in by_name["tmpdir"].default_text
    msgspec.json.encode(keys)  # JSON-able for docs and the supervisor


def test_every_key_is_settable_from_env():
    """Each key's env spelling is read (guards against a type the loader cannot parse)."""
    samples = {"int": "7", "float": "1.5", "str": "x", "list of str": "a,b", "map str=str": "k=v"}
    for k in config_keys():
        base = k.type.replace(" (optional)", "")
        if k.name in ("account", "host") or base.startswith("one of"):
            continue  # constrained strings, covered by their own tests
        if base == "bool":
            value = "0" if k.default else "1"
        elif k.name.endswith("_api") or k.name == "wechat_base":
            value = "http://h/p"
        else:
            value = samples[base]
        got = msgspec.json.decode(msgspec.json.encode(
            getattr(load_config(env={k.env: value}), k.name)))
        assert got != k.default, k.name


def test_to_dict_is_json():
    c = load_config(env={})
    data = msgspec.json.decode(msgspec.json.encode(c.to_dict()))
    assert data["port"] == 3000 and data["post_event_list"] == DOC_EVENT_LIST


def test_delivery_and_replay_keys_reach_their_readers(tmp_path):
    """post_* timeouts/backoff and seen_msg_id_max are real keys (env-settable, checked),
    and the delivery options and the event log use the configured values."""
    from openwx_worker.delivery import DeliveryOptions
    from openwx_worker.events import open_event_log

    c = load_config(env={})
    assert (c.post_connect_timeout, c.post_timeout, c.post_retry_base, c.post_retry_max,
            c.seen_msg_id_max) == (10.0, 35.0, 0.5, 60.0, 50_000)
    c = load_config(env={"OPENWX_POST_CONNECT_TIMEOUT": "3", "OPENWX_POST_TIMEOUT": "7.5",
                         "OPENWX_POST_RETRY_BASE": "0.25", "OPENWX_POST_RETRY_MAX": "9",
                         "OPENWX_SEEN_MSG_ID_MAX": "123",
                         "OPENWX_DATA_DIR": str(tmp_path)})
    o = DeliveryOptions.from_config(c)
    assert (o.connect_timeout, o.request_timeout, o.retry_base, o.retry_max) == (
        3.0, 7.5, 0.25, 9.0)
    with open_event_log(c) as log:
        assert log.seen_max == 123
    with pytest.raises(ConfigError, match="post_timeout"):
        load_config(env={"OPENWX_POST_TIMEOUT": "0"})
    with pytest.raises(ConfigError, match="seen_msg_id_max"):
        load_config(env={"OPENWX_SEEN_MSG_ID_MAX": "lots"})
