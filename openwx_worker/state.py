"""The client's state machine and the account's files in tmpdir.

Three pieces, used together by the runtime:

* ``ClientState`` and ``TRANSITIONS``: the seven states of reference G and which
  moves between them are legal. A refused move raises ``TransitionError``, so a
  logic error in the login code shows up in tests instead of a confusing state file.
* ``StateFiles``: the four documented files of one account
  (``mojo_weixin_{state,pid,cookie,qrcode}_{account}.*``), every write atomic, and
  the single-instance guard.
* ``StateMachine``: the current state; every change is validated, written to the
  state file and handed to listeners (the client publishes ``state_change`` events
  from one).

``StateFiles`` and ``AlreadyRunning`` live in ``files.py`` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import trio

from openwx_worker import __version__
from openwx_worker.config import WorkerConfig
from openwx_worker.files import AlreadyRunning, StateFiles, StateRecord

__all__ = [
    "TRANSITIONS", "AlreadyRunning", "ClientState", "StateError", "StateFiles", "StateMachine",
    "StateRecord", "TransitionError", "can_transition", "open_state",
]

log = logging.getLogger(__name__)


class ClientState(enum.Enum):
    """Where the account is in its life; the values are the wire names."""

    init = "init"              # the worker has started; nothing has been tried yet
    loading = "loading"        # preparing a login: saved-cookie resume or push login is tried
    scaning = "scaning"        # a QR code is waiting to be scanned (one "n": the wire name)
    confirming = "confirming"  # scanned or pushed; waiting for 登录 to be tapped on the phone
    updating = "updating"      # logged in; loading the user, contacts and groups
    running = "running"        # serving: messages flow, the API works
    stop = "stop"              # exiting; final

    def __str__(self) -> str:
        return self.value


_S = ClientState

#: Legal moves. Staying in the same state is always allowed and is not a change.
TRANSITIONS: Mapping[ClientState, frozenset[ClientState]] = {
    _S.init: frozenset({_S.loading, _S.stop}),
    # resume -> updating; push login -> confirming; no saved session -> scaning
    _S.loading: frozenset({_S.scaning, _S.confirming, _S.updating, _S.stop}),
    # scanned -> confirming; scan and confirm seen in one poll -> updating;
    # QR failure (400) or refused login -> loading for a fresh attempt
    _S.scaning: frozenset({_S.confirming, _S.updating, _S.loading, _S.stop}),
    # confirmed -> updating; expiry, cancel or refusal (1203) -> a new QR code
    _S.confirming: frozenset({_S.updating, _S.scaning, _S.loading, _S.stop}),
    # done -> running; the session died while loading contacts -> log in again
    _S.updating: frozenset({_S.running, _S.loading, _S.scaning, _S.stop}),
    # session lost (1100/1101/1102): re-login by resume (loading), push (confirming),
    # QR (scaning), or a contact reload (updating)
    _S.running: frozenset({_S.loading, _S.scaning, _S.confirming, _S.updating, _S.stop}),
    _S.stop: frozenset(),
}


def can_transition(old: ClientState, new: ClientState) -> bool:
    """Whether ``old -> new`` is allowed (a non-change ``old == new`` counts as allowed)."""
    return old == new or new in TRANSITIONS[old]


class StateError(Exception):
    """Base of the errors raised by this module."""


class TransitionError(StateError):
    """A state change that the state machine does not allow (a bug in the caller)."""

    def __init__(self, old: ClientState, new: ClientState) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old])) or "nothing"
        super().__init__(f"state change {old.value} -> {new.value} is not allowed "
                         f"(from {old.value}: {allowed})")
        self.old, self.new = old, new


Listener = Callable[[ClientState, ClientState], None]


class StateMachine:
    """The account's current state; each change is checked, saved and announced.

    ``set_state`` (async: the file write runs in a thread) and
    ``set_state_nowait`` (for shutdown paths that cannot await) return True on a
    real change and False when the state was already ``new`` (Mojo::Weixin
    re-asserts ``running``; that is not a change and fires nothing). Listeners
    run synchronously, in order, before the state file is written, and are
    called as ``listener(old, new)``.
    """

    def __init__(self, files: StateFiles, config: WorkerConfig, *, port: int | None = None,
                 start_time: float | None = None) -> None:
        self.files = files
        self.config = config
        self.port = port
        self.start_time = int(time.time() if start_time is None else start_time)
        self._state = ClientState.init
        self._previous: ClientState | None = None
        self._state_time = time.time()
        self._listeners: list[Listener] = []
        self._changed: trio.Event | None = None
        self._write_lock = threading.Lock()  # writes also run in trio worker threads

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def previous_state(self) -> ClientState | None:
        return self._previous

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(old, new)`` on every change; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def snapshot(self) -> StateRecord:
        """The state file's content for the current state."""
        c, f = self.config, self.files
        return StateRecord(
            account=c.account, state=self._state.value,
            previous_state=self._previous.value if self._previous else None,
            state_time=self._state_time, pid=os.getpid(), host=c.host, port=self.port,
            version=__version__, start_time=self.start_time, os=sys.platform,
            tmpdir=str(f.tmpdir), data_dir=c.data_dir or "", media_dir=c.media_dir or "",
            state_path=str(f.state_path), pid_path=str(f.pid_path),
            cookie_path=str(f.cookie_path), qrcode_path=str(f.qrcode_path),
            log_level=c.log_level, log_path=c.log_path, keep_cookie=int(c.keep_cookie),
            download_media=int(c.download_media), emoji_to_text=int(c.emoji_to_text),
            stop_with_mobile=int(c.stop_with_mobile), qrcode_count_max=c.qrcode_count_max,
            login_variant=c.login_variant,
        )

    def write(self) -> None:
        """Write the state file now (blocking); also used for the initial ``init``."""
        with self._write_lock:
            # The snapshot is taken under the lock, so the last write holds the latest state.
            self.files.write_state(self.snapshot())

    async def _write_async(self) -> None:
        # Shielded: a small bounded write, and the file must follow the in-memory state.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self._write_safely)

    def _write_safely(self) -> None:
        try:
            self.write()
        except OSError:  # the file is advisory; a full disk must not kill the account
            log.exception("cannot write state file %s", self.files.state_path)

    def set_port(self, port: int) -> None:
        """Record the port the API actually bound (port 0 in the config) and save it."""
        self.port = port
        self._write_safely()

    def _move(self, new: ClientState) -> tuple[ClientState, ClientState] | None:
        old = self._state
        if new == old:
            return None
        if not can_transition(old, new):
            raise TransitionError(old, new)
        self._previous, self._state, self._state_time = old, new, time.time()
        log.info("state %s -> %s", old.value, new.value)
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return old, new

    def _notify(self, old: ClientState, new: ClientState) -> None:
        for listener in list(self._listeners):
            listener(old, new)

    async def set_state(self, new: ClientState) -> bool:
        """Move to ``new`` (TransitionError if not allowed) and save the state file."""
        change = self._move(new)
        if change is None:
            return False
        try:
            self._notify(*change)
        finally:  # the file follows the state even if a listener failed
            await self._write_async()
        return True

    def set_state_nowait(self, new: ClientState) -> bool:
        """As ``set_state``, writing the file in this thread (usable where awaiting is not)."""
        change = self._move(new)
        if change is None:
            return False
        try:
            self._notify(*change)
        finally:
            self._write_safely()
        return True

    async def wait_state(self, *states: ClientState) -> ClientState:
        """Return as soon as the state is one of ``states`` (at once if it already is)."""
        while self._state not in states:
            if self._changed is None:
                self._changed = trio.Event()
            await self._changed.wait()
        return self._state

    def close(self) -> None:
        """Clean exit: state ``stop`` (if not yet), then the files' release().

        Listener errors at this point are logged, not raised: whatever they
        publish to may already be closed.
        """
        try:
            self.set_state_nowait(ClientState.stop)
        except Exception:  # the state and its file are already "stop" at this point
            log.exception("state listener failed during stop")
        finally:
            self.files.release()


@contextlib.contextmanager
def open_state(config: WorkerConfig, *, port: int | None = None,
               listener: Listener | None = None) -> Iterator[StateMachine]:
    """Own the account's files for the duration of the block.

    Raises AlreadyRunning before yielding if another process owns the account.
    On exit (normal or by exception) the state file says ``stop``, the pid and
    qrcode files are gone and the cookie file is kept.
    """
    files = StateFiles.for_config(config)
    files.acquire()
    machine = StateMachine(files, config, port=port)
    try:
        if listener is not None:
            machine.add_listener(listener)
        machine.write()
        yield machine
    finally:
        machine.close()
