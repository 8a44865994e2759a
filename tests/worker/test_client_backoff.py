"""Backoff: capped exponential with jitter (used by the sync loop, login and sends)."""

from __future__ import annotations

import random

from openwx_worker.client_retry import Backoff


def test_backoff_grows_is_capped_and_jittered():
    b = Backoff(base=1.0, cap=60.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    for i, d in enumerate(delays):
        nominal = min(60.0, 2.0**i)
        assert nominal / 2 <= d < nominal
    assert max(delays) < 60 and delays[-1] >= 30
    b.reset()
    assert b.next_delay() < 1.0


def test_backoff_jitter_spreads_workers():
    firsts = {round(Backoff(rng=random.Random(seed)).next_delay(), 3) for seed in range(20)}
    assert len(firsts) > 10
