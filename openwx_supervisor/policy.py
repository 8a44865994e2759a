"""When to restart a worker: exponential backoff and flapping detection.

Pure bookkeeping with the time passed in (``trio.current_time()`` by the
watcher), so the rules are tested with an autojump clock and no processes.

Rules (defaults; all in :class:`RestartPolicy`):

* the n-th consecutive failure waits ``backoff_initial * 2**(n-1)`` seconds,
  capped at ``backoff_max`` (1, 2, 4 ... 60 s);
* a worker that stayed healthy for ``healthy_reset`` seconds starts again at
  ``backoff_initial`` after its next failure;
* ``flap_failures`` failures within ``flap_window`` seconds mean the worker is
  flapping: it goes to ``failed`` and is not restarted until someone calls
  start_client (which calls :meth:`FailureTracker.reset`).
"""

from __future__ import annotations

import collections

import msgspec


class RestartPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    healthy_reset: float = 60.0
    flap_failures: int = 5
    flap_window: float = 300.0


class FailureTracker:
    """The failures of one watcher, and what to do after the next one."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._recent: collections.deque[float] = collections.deque()
        self._consecutive = 0
        self._healthy_since: float | None = None

    def healthy(self, now: float) -> None:
        """The worker answers its probe (first call of a life marks its start)."""
        if self._healthy_since is None:
            self._healthy_since = now

    def record_failure(self, now: float) -> float | None:
        """Count a failure; return the delay before the next spawn, or None if flapping."""
        if self._healthy_since is not None and now - self._healthy_since >= self.policy.healthy_reset:
            self._consecutive = 0
        self._healthy_since = None
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.policy.flap_window:
            self._recent.popleft()
        if len(self._recent) >= self.policy.flap_failures:
            return None
        self._consecutive += 1
        delay = self.policy.backoff_initial * 2 ** (self._consecutive - 1)
        return min(delay, self.policy.backoff_max)

    def reset(self) -> None:
        """Forget every failure (start_client after ``failed``, or a deliberate stop)."""
        self._recent.clear()
        self._consecutive = 0
        self._healthy_since = None

    @property
    def recent_failures(self) -> int:
        return len(self._recent)
