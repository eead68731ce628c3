"""The HTTP service's memory of what it acknowledged lately, on an injected clock."""

from __future__ import annotations

import pytest

from processors.api._ingest import RecentIdentities  # white-box: the memory behind `duplicate`
from tests.conftest import ManualClock

pytestmark = pytest.mark.pure


def test_an_identity_is_forgotten_after_its_time_even_when_nothing_is_added() -> None:
    clock = ManualClock()
    recent = RecentIdentities(ttl_s=600.0, clock=clock)
    recent.add([("shop", "o-1")])
    clock.now += 600.0
    assert ("shop", "o-1") in recent  # 10 minutes to the second: still lately
    clock.now += 0.001
    assert ("shop", "o-1") not in recent  # a quiet process: no add came to drop it
    assert ("shop", "o-2") not in recent


def test_capacity_drops_the_oldest_first() -> None:
    recent = RecentIdentities(capacity=2, clock=ManualClock())
    recent.add([("shop", "a"), ("shop", "b"), ("shop", "c")])
    assert [("shop", x) in recent for x in "abc"] == [False, True, True]
