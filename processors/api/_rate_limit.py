"""Per-key rate limits, in events, so one noisy feed cannot starve the others."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import limits


class RateLimiter:
    """`rate` like `50000/second`: a moving window per key; a request costs its number of events,
    all of them, so a large request cannot slip through an empty window.

    The rate is parsed by `limits`; the window is kept here, one queue of (time, events) per key,
    because `limits`' memory storage starts a timer thread every 10 ms under load and the event
    loop waits for each to start.
    """

    def __init__(self, rate: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._item = limits.parse(rate)
        self._period = float(self._item.get_expiry())
        self._clock = clock
        self._windows: dict[str, tuple[deque[tuple[float, int]], list[int]]] = {}  # entries, [sum]

    def take(self, who: str, events: int) -> float | None:
        """None when allowed (and counted), else the seconds to wait before trying again.

        A request of more events than `amount` never fits: callers refuse it before asking.
        """
        if events > self.amount:
            raise ValueError(f"{events} events can never fit a rate of {self.rate}")
        cost = max(1, events)
        now = self._clock()
        entries, total = self._windows.setdefault(who, (deque(), [0]))
        while entries and entries[0][0] <= now - self._period:
            total[0] -= entries.popleft()[1]
        if total[0] + cost <= self.amount:
            entries.append((now, cost))
            total[0] += cost
            return None
        # the wait until enough of the oldest requests leave the window for this one to fit
        freed, until = total[0] + cost - self.amount, now
        for at, spent in entries:
            freed -= spent
            until = at
            if freed <= 0:
                break
        return max(1.0, math.ceil(until + self._period - now))

    @property
    def amount(self) -> int:
        """Events one key may send within one period."""
        return self._item.amount

    @property
    def rate(self) -> str:
        return f"{self._item.amount}/{self._item.GRANULARITY.name}"
