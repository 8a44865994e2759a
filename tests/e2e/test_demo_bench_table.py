"""``scripts/bench`` turns every benchmark's figure lines into table rows, and never
drops a figure silently (the README's "how to run the benchmarks" relies on it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "bench_table.py"
_spec = importlib.util.spec_from_file_location("bench_table", _PATH)
assert _spec is not None and _spec.loader is not None
bench_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_table)
parse_figures = bench_table.parse_figures


@pytest.mark.parametrize(("line", "row"), [
    ("models.encode_5000_friends_ms: 0.71 (target < 10)",
     ("models.encode_5000_friends_ms", "0.71", "< 10", True)),
    ("delivery throughput: 1,530 events/s (target >= 2,000)",
     ("delivery throughput", "1,530 events/s", ">= 2,000", False)),
    ("publish -> webhook latency p99: 4.52 ms (target <= 25)",
     ("publish -> webhook latency p99", "4.52 ms", "<= 25", True)),
    ("time for 50 accounts to reach running: 24.7 s (target <= 30 s on 2 cores)",
     ("time for 50 accounts to reach running", "24.7 s", "<= 30 s on 2 cores", True)),
    ("x: 5 ms (target ≤ 4 ms)", ("x", "5 ms", "≤ 4 ms", False)),
    ("supervisor RSS with 50 workers: 37.7 MB", ("supervisor RSS with 50 workers", "37.7 MB", "", None)),
    ("worker.idle_rss_large_mb: 176.0 (for context)", ("worker.idle_rss_large_mb", "176.0", "", None)),
    ("sim.inject_p99_ms: 3.18 (target none; context, 300 rounds)",
     ("sim.inject_p99_ms", "3.18", "", None)),
])
def test_one_figure_per_line(line: str, row: tuple) -> None:
    assert parse_figures(line) == [row]


def test_labelled_values_share_one_target_on_the_last() -> None:
    rows = parse_figures("get_friend_info, 5000 friends: median 0.50 ms, p95 12.5 ms (target <= 10 ms)")
    assert rows == [("get_friend_info, 5000 friends median", "0.50 ms", "", None),
                    ("get_friend_info, 5000 friends p95", "12.5 ms", "<= 10 ms", False)]


def test_a_target_in_an_unknown_form_is_a_missed_row_not_silence() -> None:
    [(name, value, _, met)] = parse_figures("weird: 1 ms and 2 (target < 3)")
    assert (name, value, met) == ("weird", "unparsed line", False)


def test_commentary_is_not_a_figure() -> None:
    assert parse_figures("running bench_api.py ...\nwarming up\n") == []
