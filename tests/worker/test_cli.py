"""openwx-worker's command line: help, flags, clean errors, handing over to the runtime."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
from click.testing import CliRunner

from openwx_worker.cli import main
from openwx_worker.config import WorkerConfig, config_keys
from openwx_worker.state import AlreadyRunning


@pytest.fixture(autouse=True)
def restore_root_logger():
    """`run` installs a log handler on the root logger; take it away after each test."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
def runner(monkeypatch, tmp_path):
    """A CliRunner with no OPENWX_* / MOJO_WEIXIN_* variables leaking in from outside."""
    import os

    for name in list(os.environ):
        if name.startswith(("OPENWX_", "MOJO_WEIXIN_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENWX_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


@pytest.fixture
def fake_runtime(monkeypatch):
    """Stand-in for openwx_worker.runtime that records what run_worker received."""
    module = types.ModuleType("openwx_worker.runtime")
    module.calls = []

    async def run_worker(config):
        module.calls.append(config)
        return module.exit_code

    module.exit_code = 0
    module.run_worker = run_worker
    monkeypatch.setitem(sys.modules, "openwx_worker.runtime", module)
    return module


def test_help(runner):
    for args in (["--help"], ["run", "--help"], ["config", "--help"], ["-h"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
    run_help = runner.invoke(main, ["run", "--help"]).output
    for flag in ("--account", "--port", "--host", "--tmpdir", "--wechat-base", "--post-api",
                 "--config", "--no-download-media", "OPENWX_PORT"):
        assert flag in run_help


def test_every_key_has_a_flag(runner):
    run_help = runner.invoke(main, ["run", "--help"]).output
    for key in config_keys():
        assert key.flag in run_help, key.name


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and "openwx-worker" in result.output


def test_run_hands_the_config_to_the_runtime(runner, fake_runtime, tmp_path):
    result = runner.invoke(main, [
        "run", "--account", "bot1", "--port", "0", "--tmpdir", str(tmp_path),
        "--wechat-base", "http://127.0.0.1:9/", "--post-api", "http://127.0.0.1:8/post",
        "--send-interval", "0", "--no-download-media", "--stop-with-mobile",
    ], env={"OPENWX_POLL_INTERVAL": "2"})
    assert result.exit_code == 0, result.output
    (config,) = fake_runtime.calls
    assert isinstance(config, WorkerConfig)
    assert (config.account, config.port, config.tmpdir) == ("bot1", 0, str(tmp_path))
    assert config.wechat_base == "http://127.0.0.1:9/"
    assert config.post_api == "http://127.0.0.1:8/post"
    assert config.send_interval == 0 and config.poll_interval == 2
    assert config.download_media is False and config.stop_with_mobile is True


def test_run_exit_code_from_runtime(runner, fake_runtime, tmp_path):
    fake_runtime.exit_code = 3
    result = runner.invoke(main, ["run", "--port", "0", "--tmpdir", str(tmp_path)])
    assert result.exit_code == 3


def test_run_reports_already_running_cleanly(runner, monkeypatch, tmp_path):
    module = types.ModuleType("openwx_worker.runtime")

    async def run_worker(config):
        raise AlreadyRunning(config.account, 4242, tmp_path / "mojo_weixin_pid_a.pid")

    module.run_worker = run_worker
    monkeypatch.setitem(sys.modules, "openwx_worker.runtime", module)
    result = runner.invoke(main, ["run", "--account", "a", "--tmpdir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already running" in result.output and "4242" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args,words", [
    (["--port", "abc"], ["port", "--port", "'abc'"]),
    (["--download-media=perhaps"], ["download_media", "boolean"]),
    (["--host", "0.0.0.0"], ["access_token"]),
    (["--post-api", "not a url"], ["post_api"]),
    (["--download-media", "--no-download-media"], ["both"]),
])
def test_bad_flag_values_give_a_clean_message(runner, fake_runtime, args, words):
    result = runner.invoke(main, ["run", *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("openwx-worker: error:")
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output
    assert fake_runtime.calls == []


def test_bad_env_and_file_give_a_clean_message(runner, fake_runtime, tmp_path):
    result = runner.invoke(main, ["run"], env={"OPENWX_QRCODE_COUNT_MAX": "lots"})
    assert result.exit_code == 2 and "OPENWX_QRCODE_COUNT_MAX" in result.output
    cfg = tmp_path / "w.toml"
    cfg.write_text("colour = 1\n")
    result = runner.invoke(main, ["run", "--config", str(cfg)])
    assert result.exit_code == 2 and "unknown key 'colour'" in result.output
    assert fake_runtime.calls == []


def test_config_prints_effective_config(runner, tmp_path):
    cfg = tmp_path / "w.toml"
    cfg.write_text('port = 3001\naccount = "fromfile"\npost_event_list = ["login"]\n')
    result = runner.invoke(main, ["config", "--config", str(cfg), "--port", "3003",
                                  "--emoji-to-text=false", "--post-stdout"],
                           env={"OPENWX_PORT": "3002", "OPENWX_TMPDIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["port"] == 3003 and data["account"] == "fromfile"
    assert data["post_event_list"] == ["login"] and data["tmpdir"] == str(tmp_path)
    assert data["emoji_to_text"] is False and data["post_stdout"] is True
    assert set(data) == {k.name for k in config_keys()}
    assert data["access_token"] is None


def test_config_does_not_print_secrets(runner):
    result = runner.invoke(main, ["config", "--access-token", "tok123", "--post-secret", "s3c"])
    assert result.exit_code == 0, result.output
    assert "tok123" not in result.output and "s3c" not in result.output
    data = json.loads(result.output)
    assert data["access_token"] == "(set)" and data["post_secret"] == "(set)"


def test_config_keys_listing(runner):
    text = runner.invoke(main, ["config", "--keys"]).output
    md = runner.invoke(main, ["config", "--keys", "--format", "markdown"]).output
    js = json.loads(runner.invoke(main, ["config", "--keys", "--format", "json"]).output)
    for key in config_keys():
        assert key.env in text and f"`{key.flag}`" in md
    assert md.splitlines()[0].startswith("| key |")
    assert [k["name"] for k in js] == [k.name for k in config_keys()]


def test_real_entry_point_bad_value(tmp_path):
    """Through a real process: one line on stderr, status 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-c", "from openwx_worker.cli import main; main()", "run",
         "--port", "-1", "--tmpdir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert "port" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_setup_logging_levels_and_idempotence(tmp_path):
    import io
    import logging

    from openwx_worker.logging import MSG, setup_logging

    root = logging.getLogger()
    stream = io.StringIO()
    setup_logging("msg", account="bot1", stream=stream)
    handler = setup_logging("msg", account="bot1", stream=stream)  # replaces, not adds
    ours = [h for h in root.handlers if type(h).__name__ == "_OurHandler"]
    assert ours == [handler]
    log = logging.getLogger("openwx_worker.test")
    log.info("chatter")
    log.log(MSG, "friend said hi")
    log.warning("careful")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "[MSG] [bot1]" in lines[0] and "friend said hi" in lines[0]
    assert "[WARNING]" in lines[1]
    path = tmp_path / "w.log"
    setup_logging("debug", log_path=str(path))
    assert handler not in root.handlers
    log.debug("to the file")
    assert "to the file" in path.read_text()


def test_second_worker_for_an_account_exits_1_with_a_clear_message(runner, monkeypatch,
                                                                   tmp_path):
    """The pid guard seen from the command line: a live owner in another process."""
    import textwrap

    from openwx_worker.state import open_state

    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from openwx_worker.files import StateFiles
            files = StateFiles(sys.argv[1], "acc")
            files.acquire()
            print("ready", flush=True)
            sys.stdin.read()
        """), str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        module = types.ModuleType("openwx_worker.runtime")
        entered = []

        async def run_worker(config):
            with open_state(config):
                entered.append(config.account)

        module.run_worker = run_worker
        monkeypatch.setitem(sys.modules, "openwx_worker.runtime", module)
        args = ["run", "--account", "acc", "--tmpdir", str(tmp_path), "--port", "0"]
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        assert f"already running (pid {holder.pid}" in result.output
        assert entered == [] and "Traceback" not in result.output
    finally:
        holder.kill()
        holder.wait()
    result = runner.invoke(main, args)  # the owner died: its files are taken over
    assert result.exit_code == 0, result.output
    assert entered == ["acc"]
