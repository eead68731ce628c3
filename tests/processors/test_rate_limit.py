"""The per-key moving window, on an injected clock."""

from __future__ import annotations

import pytest

from processors.api import RateLimiter
from tests.conftest import ManualClock

pytestmark = pytest.mark.pure


def test_a_request_costs_its_events_and_the_window_moves() -> None:
    clock = ManualClock()
    limiter = RateLimiter("10/minute", clock)
    assert (limiter.amount, limiter.rate) == (10, "10/minute")
    assert limiter.take("feed", 6) is None
    clock.now += 30
    assert limiter.take("feed", 4) is None
    assert limiter.take("feed", 1) == 30  # the first 6 leave the window 60 s after they came
    assert limiter.take("other", 10) is None  # each key has its own window
    clock.now += 30
    assert limiter.take("feed", 6) is None  # the first request left; the second (4) is still in
    assert limiter.take("feed", 1) == 30


def test_the_wait_is_until_enough_leaves_the_window_for_the_request_to_fit() -> None:
    clock = ManualClock()
    limiter = RateLimiter("10/minute", clock)
    for _ in range(5):
        assert limiter.take("feed", 2) is None
        clock.now += 10
    assert limiter.take("feed", 5) == 30  # three requests of 2 must leave; the third (at +20 s) at +80 s
    assert limiter.take("feed", 0) == 10  # an empty request still costs one


def test_more_events_than_the_whole_rate_never_fit() -> None:
    with pytest.raises(ValueError, match="can never fit"):
        RateLimiter("10/minute").take("feed", 11)
