"""Per-key rate limits, in events, so one noisy feed cannot starve the others."""

from __future__ import annotations

import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    """`rate` like `50000/second`: a moving window per key; a request costs its number of events."""

    def __init__(self, rate: str) -> None:
        self._item = limits.parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, who: str, events: int) -> float | None:
        """None when allowed (and counted), else the seconds to wait before trying again."""
        # a request larger than the whole allowance may still pass when the window is empty
        cost = max(1, min(events, self._item.amount))
        if self._limiter.hit(self._item, who, cost=cost):
            return None
        reset = self._limiter.get_window_stats(self._item, who).reset_time
        return max(1.0, math.ceil(reset - time.time()))

    @property
    def rate(self) -> str:
        return f"{self._item.amount}/{self._item.GRANULARITY.name}"
