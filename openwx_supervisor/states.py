"""The life of one supervised worker, as named states.

Vocabulary from supervisor/circus: a *watcher* owns one account's worker
process and moves it through these states. Every change goes through
:meth:`openwx_supervisor.watcher.Watcher._change_state`, which checks it against
:data:`TRANSITIONS` and logs one line per change, so the history of an account
can be read from the log.
"""

from __future__ import annotations

import enum


class WatcherState(enum.Enum):
    STOPPED = "stopped"  # not running and not wanted: before the first start, after stop_client
    STARTING = "starting"  # spawned; its HTTP server has not answered yet
    RUNNING = "running"  # process alive and answering the health probe
    BACKOFF = "backoff"  # died or stopped answering; waiting before the next spawn
    STOPPING = "stopping"  # SIGTERM sent, waiting graceful_timeout before SIGKILL
    EXITED = "exited"  # exited with status 0 on its own (on purpose): not restarted
    FAILED = "failed"  # flapping (too many failures in the window): no restart until start_client


S = WatcherState

TRANSITIONS: dict[WatcherState, frozenset[WatcherState]] = {
    S.STOPPED: frozenset({S.STARTING}),
    # STARTING -> STOPPED: stopped before the spawn happened
    S.STARTING: frozenset({S.RUNNING, S.BACKOFF, S.STOPPING, S.STOPPED, S.EXITED, S.FAILED}),
    S.RUNNING: frozenset({S.BACKOFF, S.STOPPING, S.EXITED, S.FAILED}),
    S.BACKOFF: frozenset({S.STARTING, S.STOPPED}),
    S.STOPPING: frozenset({S.STOPPED}),
    S.EXITED: frozenset({S.STARTING, S.STOPPED}),
    S.FAILED: frozenset({S.STARTING, S.STOPPED}),
}

ALIVE_STATES = frozenset({S.STARTING, S.RUNNING, S.STOPPING})


class InvalidTransition(RuntimeError):
    """A bug: some code tried a state change that the table does not allow."""
