"""How a client's options become a worker's command line and environment, and are saved."""

from __future__ import annotations

from openwx_supervisor.config import SupervisorConfig
from openwx_supervisor.launcher import effective_options, with_client, worker_argv, worker_env


def test_client_is_merged_into_the_url_replacing_any_other():
    assert with_client("http://h/post?token=x", "bot1") == "http://h/post?token=x&client=bot1"
    assert with_client("http://h/post?client=evil&a=1", "bot1") == "http://h/post?a=1&client=bot1"


def test_effective_options_layer_defaults_and_client_options(tmp_path):
    config = SupervisorConfig(tmpdir=str(tmp_path), data_root="/d", post_api="http://h/p",
                              worker={"post_event_list": ["login", "stop"], "keep_cookie": False})
    opts = effective_options(config, "bot", {"poll_api": "http://h/poll", "tmpdir": "/t"})
    assert opts == {
        "post_event_list": "login,stop", "keep_cookie": "false", "tmpdir": "/t",
        "data_dir": "/d/bot", "post_api": "http://h/p?client=bot",
        "poll_api": "http://h/poll?client=bot",
    }


def test_argv_has_only_explicit_flags(tmp_path):
    config = SupervisorConfig(tmpdir=str(tmp_path), wechat_base="http://127.0.0.1:9",
                              worker_command=("w",))
    argv = worker_argv(config, "bot", {"send_interval": "-1"}, 3007)
    assert argv[:8] == ["w", "run", "--account", "bot", "--host", "127.0.0.1", "--port", "3007"]
    assert "--wechat-base=http://127.0.0.1:9" in argv
    assert "--send-interval=-1" in argv  # a value starting with "-" stays a value


def test_worker_env_drops_our_variables(monkeypatch):
    monkeypatch.setenv("OPENWX_PORT", "1")
    monkeypatch.setenv("MOJO_WEIXIN_ACCOUNT", "x")
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/x")
    monkeypatch.setenv("HOME_LIKE", "kept")
    env = worker_env(7)
    assert env["OPENWX_PARENT_FD"] == "7" and env["HOME_LIKE"] == "kept"
    assert not {"OPENWX_PORT", "MOJO_WEIXIN_ACCOUNT", "NOTIFY_SOCKET"} & set(env)


def test_a_corrupt_clients_file_is_kept_aside(tmp_path):
    from openwx_supervisor.store import ClientRecord, load_clients, save_clients

    path = str(tmp_path / "clients.json")
    save_clients(path, {"a": ClientRecord(options={"post_api": "http://h/"}, port=3001)})
    assert load_clients(path)["a"].port == 3001
    (tmp_path / "clients.json").write_text("{not json")
    assert load_clients(path) == {}
    assert (tmp_path / "clients.json.bad").read_text() == "{not json"


def test_a_per_client_log_level_is_honoured(tmp_path):
    """Regression for reference F.3/H.8: the original forced its own log level on every worker."""
    config = SupervisorConfig(tmpdir=str(tmp_path), worker={"log_level": "warning"},
                              worker_command=("w",))
    argv = worker_argv(config, "bot", {"log_level": "debug"}, 3007)
    assert [a for a in argv if a.startswith("--log-level")] == ["--log-level=debug"]
    assert "--log-level=warning" in worker_argv(config, "other", {}, 3008)
