"""Atomic file writes, and the files of one account in tmpdir (``StateFiles``).

Every file another program may read while the worker runs (the state file a
supervisor polls, the pid file a script kills by, the cookie file the next start
resumes from, the QR image a user opens) is replaced in one step: the new content
goes to a temporary file in the same folder, which is then renamed over the old
name with ``os.replace``. A reader therefore sees the old content or the new
content, never an empty or half-written file (Mojo::Weixin truncated and rewrote
in place, reference H.9).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

if TYPE_CHECKING:
    from openwx_worker.config import WorkerConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644,
                 durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that no reader sees a partial file.

    ``mode`` is applied to the new file before it becomes visible (0o600 for
    secrets such as the cookie file). ``durable`` also fsyncs the file and its
    folder, so the content survives a power cut; turn it off for files that are
    rewritten often and are cheap to lose.
    """
    target = Path(path)
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            if durable:
                os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if durable:
        _fsync_dir(folder)


def remove_file(path: str | os.PathLike[str]) -> bool:
    """Delete ``path`` if it exists; return whether something was deleted."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def read_file(path: str | os.PathLike[str]) -> bytes | None:
    """The content of ``path``, or None when it does not exist."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def _fsync_dir(folder: Path) -> None:
    # The rename itself lives in the folder's metadata; without this a crash right
    # after os.replace can bring the old file back.
    try:
        dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --- the account's files in tmpdir -------------------------------------------------------
#
# The single-instance guard fixes reference H.9. Mojo::Weixin probed the recorded
# pid with signal 0, so after a SIGKILL a recycled pid made the account look busy
# forever. Here the owner holds an exclusive ``flock`` on a hidden lock file next
# to the pid file for as long as it lives; the kernel drops the lock when the
# process dies, however it dies. The pid file is still written (plain decimal, no
# newline, as before) for scripts and for the error message, but it is not what
# decides. The lock file is never deleted: unlinking a lock file lets two
# processes lock two different inodes of the same name.


class AlreadyRunning(Exception):
    """Another live process already runs this account in this tmpdir."""

    def __init__(self, account: str, pid: int | None, pid_path: Path) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"account {account!r} is already running ({who}, see {pid_path}); "
                         "stop it first, or use another --account or --tmpdir")
        self.account, self.pid, self.pid_path = account, pid, pid_path


class StateRecord(msgspec.Struct, kw_only=True):
    """The JSON of ``mojo_weixin_state_{account}.json`` (reference D, plus a few fields).

    Flags are 0/1 numbers as Mojo::Weixin wrote them. Decoding is lenient (unknown
    fields ignored) so that readers such as the supervisor survive newer writers.
    """

    account: str
    state: str
    previous_state: str | None = None
    state_time: float = 0.0  # epoch seconds of the last state change (an addition)
    pid: int = 0
    host: str = ""
    port: int | None = None
    version: str = ""
    start_time: int = 0
    os: str = ""
    tmpdir: str = ""
    data_dir: str = ""
    media_dir: str = ""
    state_path: str = ""
    pid_path: str = ""
    cookie_path: str = ""
    qrcode_path: str = ""
    log_level: str = "info"
    log_path: str | None = None
    keep_cookie: int = 1
    download_media: int = 1
    emoji_to_text: int = 1
    stop_with_mobile: int = 0
    qrcode_count_max: int = 10
    login_variant: str = "web"


_state_encoder = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(StateRecord)


class StateFiles:
    """The files of one account in tmpdir; every write replaces the file atomically.

    ``acquire()`` makes this process the account's owner (or raises
    AlreadyRunning); ``release()`` is the clean-exit half: qrcode and pid files
    removed, the cookie kept, the lock dropped. Reading helpers work without
    owning, e.g. for the supervisor.
    """

    def __init__(self, tmpdir: str | os.PathLike[str], account: str) -> None:
        self.tmpdir = Path(tmpdir)
        self.account = account
        self.state_path = self.tmpdir / f"mojo_weixin_state_{account}.json"
        self.pid_path = self.tmpdir / f"mojo_weixin_pid_{account}.pid"
        self.cookie_path = self.tmpdir / f"mojo_weixin_cookie_{account}.dat"
        self.qrcode_path = self.tmpdir / f"mojo_weixin_qrcode_{account}.jpg"
        self.lock_path = self.tmpdir / f".mojo_weixin_pid_{account}.lock"
        self._lock_fd: int | None = None

    @classmethod
    def for_config(cls, config: WorkerConfig) -> StateFiles:
        return cls(config.tmpdir or ".", config.account)

    # --- the single-instance guard ------------------------------------------------

    @property
    def owned(self) -> bool:
        """Whether this object holds the account's lock."""
        return self._lock_fd is not None

    def acquire(self) -> None:
        """Become the account's only process, or raise AlreadyRunning.

        A pid file left by a dead process (SIGKILL, crash, reboot) or holding
        garbage is taken over with a warning; so is one naming a live process
        that does not hold the lock (a recycled pid).
        """
        if self._lock_fd is not None:
            return
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            locked = _lock_with_patience(fd)
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                os.close(fd)
                raise
            # A file system without flock (some network mounts): fall back to
            # Mojo::Weixin's signal-0 probe of the recorded pid.
            log.warning("no file locks in %s (%s); checking the pid file only", self.tmpdir, exc)
            pid = self.read_pid()
            locked = not (pid and pid != os.getpid() and _pid_alive(pid))
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            raise AlreadyRunning(self.account, self.read_pid(), self.pid_path)
        self._lock_fd = fd
        try:
            self._take_over_pid_file()
        except BaseException:
            self._unlock()
            raise

    def _take_over_pid_file(self) -> None:
        old = read_file(self.pid_path)
        if old is not None:
            text = old.decode("ascii", "replace").strip()
            if not text.isdigit():
                log.warning("pid file %s holds garbage (%r); taking it over", self.pid_path, text[:40])
            elif int(text) != os.getpid():
                alive = _pid_alive(int(text))
                log.warning("pid file %s names %s process %s that does not own account %r; "
                            "taking it over", self.pid_path, "a live" if alive else "a dead",
                            text, self.account)
        atomic_write(self.pid_path, str(os.getpid()).encode("ascii"))

    def release(self) -> None:
        """Clean exit: remove the qrcode and pid files, keep the cookie, drop the lock."""
        if self._lock_fd is None:
            return
        remove_file(self.qrcode_path)
        if self.read_pid() == os.getpid():
            remove_file(self.pid_path)
        self._unlock()

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    def owner_pid(self) -> int | None:
        """The pid of the live process owning the account, or None if there is none.

        Works from any process (the supervisor's check, a status command). While
        the owner is still writing its pid file the answer can be 0 ("owned,
        pid not known yet").
        """
        if self._lock_fd is not None:
            return os.getpid()
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held for an instant only
        except BlockingIOError:
            return self.read_pid() or 0
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                raise
            pid = self.read_pid()
            return pid if pid and _pid_alive(pid) else None
        finally:
            os.close(fd)
        return None

    def read_pid(self) -> int | None:
        """The pid in the pid file, or None when it is missing or not a number."""
        data = read_file(self.pid_path)
        text = data.decode("ascii", "replace").strip() if data is not None else ""
        return int(text) if text.isdigit() else None

    # --- the state file -----------------------------------------------------------

    def write_state(self, record: StateRecord) -> None:
        atomic_write(self.state_path, _state_encoder.encode(record) + b"\n")

    def read_state(self) -> StateRecord | None:
        """The state file's record, or None when it is missing or unreadable."""
        data = read_file(self.state_path)
        if not data:
            return None
        try:
            return _state_decoder.decode(data)
        except msgspec.DecodeError:
            return None

    # --- the cookie file (contents owned by the protocol client) ----------------------

    def read_cookie(self) -> bytes | None:
        """The saved session bytes, or None when there is no cookie file."""
        return read_file(self.cookie_path)

    def write_cookie(self, data: bytes) -> None:
        """Save the session (mode 0600: it is a credential)."""
        atomic_write(self.cookie_path, data, mode=0o600)

    def read_cookie_json(self, type: type[T]) -> T | None:
        """The cookie file decoded as ``type``; None when missing or not decodable."""
        data = self.read_cookie()
        if not data:
            return None
        try:
            return msgspec.json.decode(data, type=type)
        except msgspec.DecodeError as exc:
            log.warning("ignoring unreadable cookie file %s: %s", self.cookie_path, exc)
            return None

    def write_cookie_json(self, value: Any) -> None:
        self.write_cookie(msgspec.json.encode(value))

    def clear_cookie(self) -> None:
        """Forget the saved session (logout, or a session the server refused)."""
        remove_file(self.cookie_path)

    # --- the QR code image ----------------------------------------------------------

    def write_qrcode(self, image: bytes) -> None:
        atomic_write(self.qrcode_path, image, durable=False)

    def remove_qrcode(self) -> None:
        remove_file(self.qrcode_path)


_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}
_LOCK_PATIENCE = 0.25  # seconds; see _lock_with_patience


def _lock_with_patience(fd: int) -> bool:
    """Take the exclusive lock; False if another process keeps holding it.

    ``owner_pid()`` probes by taking the lock for an instant, so a worker
    starting at that very moment would see it held. Retrying for a short while
    tells such a probe from a real owner, which holds the lock for its whole life.
    """
    deadline = time.monotonic() + _LOCK_PATIENCE
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _pid_alive(pid: int) -> bool:
    """Signal-0 probe, for log messages only (the lock decides ownership)."""
    if pid <= 0:
        return False  # 0 and negatives address process groups, not a process
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


