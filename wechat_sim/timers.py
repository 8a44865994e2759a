"""Things the simulated phones do later (auto-replies), run by the server's nursery.

The world only records `(due, callback)`; `run_timers(world)` is the one task that fires
them, started by `server.serve` next to hypercorn, so the world itself owns no tasks.
Due times are trio time: tests with a MockClock skip the waiting.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from wechat_sim.model import Notifier

log = logging.getLogger(__name__)


@dataclass
class Timers:
    _heap: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)
    changed: Notifier = field(default_factory=Notifier)

    def call_at(self, due: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), fn))
        self.changed.notify()

    def pop_due(self, now: float) -> list[Callable[[], None]]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


async def run_timers(timers: Timers) -> None:
    """Fire due callbacks forever (until cancelled). A failing callback is logged, not fatal."""
    while True:
        for fn in timers.pop_due(trio.current_time()):
            try:
                fn()
            except Exception:
                log.exception("simulated timer failed")
        due = timers.next_due()
        with trio.move_on_at(due if due is not None else float("inf")):
            await timers.changed.wait()
