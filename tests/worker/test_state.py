"""ClientState transitions, the account's files in tmpdir, and the single-instance guard."""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading

import msgspec
import pytest
import trio

from openwx_worker.config import WorkerConfig
from openwx_worker.files import atomic_write
from openwx_worker.state import (
    TRANSITIONS,
    AlreadyRunning,
    ClientState,
    StateFiles,
    StateMachine,
    StateRecord,
    TransitionError,
    can_transition,
    open_state,
)

S = ClientState

# The allowed moves, written out independently of state.py (a spec check).
ALLOWED = {
    ("init", "loading"), ("init", "stop"),
    ("loading", "scaning"), ("loading", "confirming"), ("loading", "updating"),
    ("loading", "stop"),
    ("scaning", "confirming"), ("scaning", "updating"), ("scaning", "loading"),
    ("scaning", "stop"),
    ("confirming", "updating"), ("confirming", "scaning"), ("confirming", "loading"),
    ("confirming", "stop"),
    ("updating", "running"), ("updating", "loading"), ("updating", "scaning"),
    ("updating", "stop"),
    ("running", "loading"), ("running", "scaning"), ("running", "confirming"),
    ("running", "updating"), ("running", "stop"),
}
ALL_PAIRS = [(a, b) for a, b in itertools.product(list(S), list(S)) if a != b]


def make_config(tmp_path, account="acc") -> WorkerConfig:
    return WorkerConfig(account=account, tmpdir=str(tmp_path), data_dir=str(tmp_path / "data"),
                        port=0)


def machine_in(tmp_path, state: ClientState) -> StateMachine:
    """A StateMachine forced into ``state`` along a legal path."""
    paths = {
        S.init: [], S.loading: [S.loading], S.scaning: [S.loading, S.scaning],
        S.confirming: [S.loading, S.scaning, S.confirming],
        S.updating: [S.loading, S.updating], S.running: [S.loading, S.updating, S.running],
        S.stop: [S.stop],
    }
    config = make_config(tmp_path)
    m = StateMachine(StateFiles.for_config(config), config)
    for step in paths[state]:
        m.set_state_nowait(step)
    assert m.state is state
    return m


def test_state_values_are_the_wire_names():
    assert [s.value for s in S] == ["init", "loading", "scaning", "confirming", "updating",
                                    "running", "stop"]
    assert str(S.scaning) == "scaning"


def test_transition_table_matches_the_spec():
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert TRANSITIONS[S.stop] == frozenset()
    assert all(S.stop in TRANSITIONS[s] for s in S if s is not S.stop)


@pytest.mark.parametrize("old,new", ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_every_transition(tmp_path, old, new):
    m = machine_in(tmp_path, old)
    seen = []
    m.add_listener(lambda a, b: seen.append((a, b)))
    allowed = (old.value, new.value) in ALLOWED
    assert can_transition(old, new) is allowed
    if allowed:
        assert m.set_state_nowait(new) is True
        assert (m.state, m.previous_state) == (new, old)
        assert seen == [(old, new)]
        record = m.files.read_state()
        assert (record.state, record.previous_state) == (new.value, old.value)
    else:
        before = m.files.read_state()
        with pytest.raises(TransitionError) as info:
            m.set_state_nowait(new)
        assert f"{old.value} -> {new.value}" in str(info.value)
        assert m.state is old and seen == []
        assert m.files.read_state() == before


@pytest.mark.parametrize("path", [
    ["loading", "scaning", "confirming", "updating", "running", "stop"],  # QR login
    ["loading", "updating", "running", "stop"],  # cookie resume
    ["loading", "confirming", "updating", "running"],  # push login
    ["loading", "scaning", "confirming", "scaning", "confirming", "updating", "running"],  # expiry
    ["loading", "updating", "running", "scaning", "confirming", "updating", "running"],  # re-login
    ["loading", "updating", "running", "loading", "updating", "running"],  # re-login by resume
])
def test_documented_sequences(tmp_path, path):
    config = make_config(tmp_path)
    m = StateMachine(StateFiles.for_config(config), config)
    for name in path:
        assert m.set_state_nowait(S(name))
    assert m.state.value == path[-1]


def test_same_state_is_not_a_change(tmp_path):
    m = machine_in(tmp_path, S.running)
    seen = []
    m.add_listener(lambda a, b: seen.append(b))
    assert m.set_state_nowait(S.running) is False
    assert seen == [] and m.previous_state is S.updating


def test_stop_is_final(tmp_path):
    m = machine_in(tmp_path, S.stop)
    for s in S:
        if s is not S.stop:
            with pytest.raises(TransitionError):
                m.set_state_nowait(s)
    assert m.set_state_nowait(S.stop) is False


def test_listener_removal_and_failing_listener_still_writes_file(tmp_path):
    m = machine_in(tmp_path, S.init)
    seen = []
    remove = m.add_listener(lambda a, b: seen.append(b))
    m.set_state_nowait(S.loading)
    remove()

    def boom(a, b):
        raise RuntimeError("listener broke")

    m.add_listener(boom)
    with pytest.raises(RuntimeError):
        m.set_state_nowait(S.scaning)
    assert seen == [S.loading]
    assert m.files.read_state().state == "scaning"


def test_state_file_content(tmp_path):
    config = make_config(tmp_path, account="bot1")
    with open_state(config, port=4321) as m:
        data = json.loads((tmp_path / "mojo_weixin_state_bot1.json").read_text())
        required = {"account", "state", "previous_state", "pid", "port", "tmpdir", "state_path",
                    "pid_path", "cookie_path", "qrcode_path", "log_level", "os", "version",
                    "start_time", "media_dir"}
        assert required <= data.keys()
        assert data["state"] == "init" and data["previous_state"] is None
        assert data["pid"] == os.getpid() and data["port"] == 4321 and data["account"] == "bot1"
        assert data["os"] == sys.platform and isinstance(data["start_time"], int)
        assert data["pid_path"] == str(tmp_path / "mojo_weixin_pid_bot1.pid")
        assert data["cookie_path"] == str(tmp_path / "mojo_weixin_cookie_bot1.dat")
        assert data["qrcode_path"] == str(tmp_path / "mojo_weixin_qrcode_bot1.jpg")
        assert data["state_path"] == str(tmp_path / "mojo_weixin_state_bot1.json")
        m.set_port(5555)
        assert m.files.read_state().port == 5555


async def test_async_set_state_and_wait_state(tmp_path):
    m = machine_in(tmp_path, S.init)
    results = []

    async def waiter():
        results.append(await m.wait_state(S.running, S.stop))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        for s in (S.loading, S.updating):
            assert await m.set_state(s)
            assert m.files.read_state().state == s.value
        assert results == []
        assert await m.set_state(S.running)
    assert results == [S.running]
    assert await m.wait_state(S.running) is S.running  # already there: returns at once


def test_clean_exit_removes_pid_and_qrcode_keeps_cookie(tmp_path):
    config = make_config(tmp_path)
    with open_state(config) as m:
        files = m.files
        assert files.pid_path.read_text() == str(os.getpid())  # plain decimal, no newline
        files.write_cookie(b'{"uin": 1}')
        files.write_qrcode(b"\xff\xd8jpeg")
        assert files.qrcode_path.exists()
        m.set_state_nowait(S.loading)
    assert not files.pid_path.exists() and not files.qrcode_path.exists()
    assert files.read_cookie() == b'{"uin": 1}'
    record = files.read_state()
    assert (record.state, record.previous_state) == ("stop", "loading")
    assert files.owner_pid() is None


def test_exit_by_exception_also_cleans_up(tmp_path):
    config = make_config(tmp_path)
    stops = []
    with pytest.raises(ValueError), open_state(config, listener=lambda a, b: stops.append(b)) as m:
        m.set_state_nowait(S.loading)
        raise ValueError("boom")
    assert stops == [S.loading, S.stop]
    assert m.files.read_state().state == "stop" and not m.files.pid_path.exists()


def test_second_owner_in_same_process_is_refused(tmp_path):
    config = make_config(tmp_path)
    with open_state(config):
        with pytest.raises(AlreadyRunning) as info:
            StateFiles.for_config(config).acquire()
        assert str(os.getpid()) in str(info.value) and "'acc'" in str(info.value)
        assert StateFiles.for_config(config).owner_pid() == os.getpid()
    # the other account in the same tmpdir is independent
    with open_state(make_config(tmp_path, "acc")), open_state(make_config(tmp_path, "other")):
        pass


HOLDER = textwrap.dedent("""
    import sys
    from openwx_worker.state import StateFiles
    files = StateFiles(sys.argv[1], sys.argv[2])
    files.acquire()
    print("ready", flush=True)
    sys.stdin.read()
    files.release()
""")


def spawn_holder(tmp_path, account="acc") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), account],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_live_owner_in_another_process_is_refused_then_stale_file_taken_over(tmp_path):
    proc = spawn_holder(tmp_path)
    files = StateFiles(tmp_path, "acc")
    try:
        assert files.read_pid() == proc.pid
        assert files.owner_pid() == proc.pid
        with pytest.raises(AlreadyRunning) as info:
            files.acquire()
        assert f"pid {proc.pid}" in str(info.value)
        assert files.read_pid() == proc.pid  # the refused process touched nothing
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # SIGKILL left the pid file behind, naming a dead process: taken over
    assert files.read_pid() == proc.pid
    assert files.owner_pid() is None
    files.acquire()
    assert files.read_pid() == os.getpid() and files.owned
    files.release()


def test_owner_that_exits_cleanly_releases(tmp_path):
    proc = spawn_holder(tmp_path)
    proc.communicate("")
    assert proc.returncode == 0
    files = StateFiles(tmp_path, "acc")
    assert not files.pid_path.exists() and files.owner_pid() is None


def test_recycled_pid_does_not_block(tmp_path):
    """Reference H.9: a pid file naming a live process that is not our worker."""
    files = StateFiles(tmp_path, "acc")
    atomic_write(files.pid_path, str(os.getppid()).encode())  # alive, but not an owner
    files.acquire()
    assert files.read_pid() == os.getpid()
    files.release()


@pytest.mark.parametrize("content", [b"", b"garbage", b"12ab", b"\xff\xfe", b"-5", b"99999999999"])
def test_garbage_or_dead_pid_file_is_taken_over(tmp_path, content):
    files = StateFiles(tmp_path, "acc")
    files.pid_path.write_bytes(content)
    assert files.owner_pid() is None
    files.acquire()
    assert files.read_pid() == os.getpid()
    files.release()
    assert not files.pid_path.exists()


def test_acquire_creates_tmpdir(tmp_path):
    files = StateFiles(tmp_path / "new" / "dir", "acc")
    files.acquire()
    assert files.pid_path.exists()
    files.release()


def test_atomic_state_writes_never_show_a_partial_file(tmp_path):
    config = make_config(tmp_path)
    files = StateFiles.for_config(config)
    m = StateMachine(files, config)
    m.write()
    stop = threading.Event()
    bad: list[bytes] = []
    reads = [0]

    def reader():
        while not stop.is_set():
            data = files.state_path.read_bytes()
            reads[0] += 1
            try:
                msgspec.json.decode(data, type=StateRecord)
            except msgspec.DecodeError:
                bad.append(data)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        cycle = [S.scaning, S.confirming, S.updating, S.running]
        m.set_state_nowait(S.loading)
        for i in range(100):
            m.set_state_nowait(cycle[i % 4])
    finally:
        stop.set()
        thread.join()
    assert bad == [] and reads[0] > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_write_keeps_old_content_on_failure(tmp_path):
    target = tmp_path / "f"
    atomic_write(target, b"old")

    with pytest.raises(TypeError):
        atomic_write(target, 123)  # type: ignore[arg-type]  # fails mid-write
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


class Session(msgspec.Struct):
    uin: int
    sid: str


def test_cookie_helpers(tmp_path):
    files = StateFiles(tmp_path, "acc")
    assert files.read_cookie() is None and files.read_cookie_json(Session) is None
    files.write_cookie_json(Session(uin=1, sid="x"))
    assert files.read_cookie_json(Session) == Session(uin=1, sid="x")
    assert stat.S_IMODE(files.cookie_path.stat().st_mode) == 0o600  # a credential
    files.write_cookie(b"not json")
    assert files.read_cookie() == b"not json"
    assert files.read_cookie_json(Session) is None  # unreadable: start over, no crash
    files.clear_cookie()
    assert files.read_cookie() is None
    files.clear_cookie()  # idempotent


def test_qrcode_helpers(tmp_path):
    files = StateFiles(tmp_path, "acc")
    files.write_qrcode(b"\xff\xd8\xff")
    assert files.qrcode_path.read_bytes() == b"\xff\xd8\xff"
    files.remove_qrcode()
    files.remove_qrcode()
    assert not files.qrcode_path.exists()


def test_read_state_tolerates_missing_and_garbage(tmp_path):
    files = StateFiles(tmp_path, "acc")
    assert files.read_state() is None
    files.state_path.write_text("{not json")
    assert files.read_state() is None
    files.state_path.write_text('{"account": "acc", "state": "running", "extra": 1}')
    assert files.read_state().state == "running"


def test_owner_probes_do_not_make_a_starting_worker_fail(tmp_path):
    """The supervisor may probe owner_pid() while a worker starts: no false refusal."""
    probe_files = StateFiles(tmp_path, "acc")
    stop = threading.Event()
    probes = [0]

    def prober():
        while not stop.is_set():
            probe_files.owner_pid()
            probes[0] += 1

    thread = threading.Thread(target=prober)
    thread.start()
    try:
        files = StateFiles(tmp_path, "acc")
        for _ in range(200):
            files.acquire()
            files.release()
    finally:
        stop.set()
        thread.join()
    assert probes[0] > 0
