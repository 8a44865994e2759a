"""Backoff and flapping rules, with time passed in."""

from openwx_supervisor.policy import FailureTracker, RestartPolicy


def test_backoff_doubles_up_to_the_cap():
    t = FailureTracker(RestartPolicy(flap_failures=100))
    delays = [t.record_failure(now=i * 1000.0) for i in range(9)]
    # spaced beyond the flap window, but never healthy: backoff keeps doubling
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_five_failures_in_the_window_is_flapping():
    t = FailureTracker(RestartPolicy())
    assert [t.record_failure(now) for now in (0, 1, 3, 7)] == [1, 2, 4, 8]
    assert t.record_failure(15) is None


def test_failures_outside_the_window_do_not_count():
    t = FailureTracker(RestartPolicy(flap_failures=3, flap_window=10))
    assert t.record_failure(0) == 1
    assert t.record_failure(5) == 2
    assert t.record_failure(20) == 4  # the first two are older than 10 s
    assert t.record_failure(21) == 8
    assert t.record_failure(22) is None  # 20, 21, 22: three within 10 s


def test_sixty_seconds_healthy_resets_the_backoff():
    t = FailureTracker(RestartPolicy())
    assert t.record_failure(0) == 1
    assert t.record_failure(2) == 2
    t.healthy(4)
    assert t.record_failure(63) == 4  # healthy 59 s only: no reset
    t.healthy(70)
    t.healthy(100)  # later probes do not move the start of the healthy period
    assert t.record_failure(130.5) == 1


def test_reset_forgets_everything():
    t = FailureTracker(RestartPolicy(flap_failures=2))
    t.record_failure(0)
    assert t.record_failure(1) is None
    t.reset()
    assert t.record_failure(2) == 1
