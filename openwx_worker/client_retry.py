"""How the client waits before trying again: capped exponential backoff with jitter.

One policy for every retry of the account's client (the sync loop, login steps, the
send queue), so that no failure makes it spin and many workers that failed together
do not retry together.  ``retrying`` wraps one protocol call that must eventually get
an answer (transport errors back off; WeChat's answers, even errors, are returned to
the caller to decide).
"""

from __future__ import annotations

import logging
import random

import trio

from openwx_worker.errors import TransportError

log = logging.getLogger(__name__)


class Backoff:
    """Capped exponential backoff with jitter: 1, 2, 4 … 60 s, each × [0.5, 1)."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        self.failures += 1
        nominal = min(self.cap, self.base * 2 ** min(self.failures - 1, 20))
        return nominal * (0.5 + self._rng.random() / 2)

    async def sleep(self) -> float:
        delay = self.next_delay()
        await trio.sleep(delay)
        return delay

    def reset(self) -> None:
        self.failures = 0


async def retrying(what: str, fn, *args, tries: int | None = None):
    """``await fn(*args)`` until it gets an answer: transport errors back off (never spin);
    after ``tries`` failures (None: never) the last error is raised."""
    backoff = Backoff()
    while True:
        try:
            return await fn(*args)
        except TransportError as exc:
            if tries is not None and backoff.failures + 1 >= tries:
                raise
            delay = backoff.next_delay()
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            await trio.sleep(delay)
