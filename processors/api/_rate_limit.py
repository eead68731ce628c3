"""Per-key rate limits, in events, so one noisy feed cannot starve the others."""

from __future__ import annotations

import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    """`rate` like `50000/second`: a moving window per key; a request costs its number of events,
    all of them, so a large request cannot slip through an empty window."""

    def __init__(self, rate: str) -> None:
        self._item = limits.parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, who: str, events: int) -> float | None:
        """None when allowed (and counted), else the seconds to wait before trying again.

        A request of more events than `amount` never fits: callers refuse it before asking.
        """
        if events > self.amount:
            raise ValueError(f"{events} events can never fit a rate of {self.rate}")
        if self._limiter.hit(self._item, who, cost=max(1, events)):
            return None
        reset = self._limiter.get_window_stats(self._item, who).reset_time
        return max(1.0, math.ceil(reset - time.time()))

    @property
    def amount(self) -> int:
        """Events one key may send within one period."""
        return self._item.amount

    @property
    def rate(self) -> str:
        return f"{self._item.amount}/{self._item.GRANULARITY.name}"
