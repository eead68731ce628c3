"""BatchWindow: when the sink's batch closes (full, quiet, or its time up), on a test clock."""

from __future__ import annotations

import pytest

from processors.runtime import BatchWindow
from tests.conftest import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


def test_an_empty_batch_is_never_due(clock: ManualClock) -> None:
    window = BatchWindow(200, 0.5, 0.02, clock)
    assert window.due_in() is None
    clock.now += 60
    assert window.due_in() is None


def test_a_batch_closes_once_its_input_is_quiet_for_the_idle_time(clock: ManualClock) -> None:
    window = BatchWindow(200, 0.5, 0.02, clock)
    window.add()
    assert window.due_in() == pytest.approx(0.02)
    clock.now += 0.015
    assert window.due_in() == pytest.approx(0.005)
    clock.now += 0.005
    assert window.due_in() == 0.0


def test_each_new_record_holds_a_batch_open_for_another_idle_time(clock: ManualClock) -> None:
    window = BatchWindow(200, 0.5, 0.02, clock)
    window.add()
    clock.now += 0.015
    window.add()  # still arriving: not quiet yet
    assert window.due_in() == pytest.approx(0.02)
    clock.now += 0.019
    assert window.due_in() == pytest.approx(0.001)
    assert len(window) == 2


def test_a_steady_trickle_still_closes_at_the_batch_time_after_its_first_record(clock: ManualClock) -> None:
    window = BatchWindow(200, 0.5, 0.02, clock)
    window.add()
    for _ in range(49):  # a record every 10 ms: never quiet for 20 ms
        clock.now += 0.01
        window.add()
    assert clock.now == pytest.approx(100.49)
    assert window.due_in() == pytest.approx(0.01)  # 0.5 s after the first, not 20 ms after the last
    clock.now += 0.01
    window.add()
    assert window.due_in() == 0.0


def test_a_full_batch_is_due_at_once(clock: ManualClock) -> None:
    window = BatchWindow(3, 0.5, 0.02, clock)
    window.add()
    window.add()
    assert not window.full
    assert window.due_in() == pytest.approx(0.02)
    window.add()
    assert window.full
    assert window.due_in() == 0.0


def test_an_idle_time_past_the_batch_time_waits_out_the_batch_time(clock: ManualClock) -> None:
    """The old behaviour, for those who want the fewest inserts: idle >= max waits `max_s`."""
    window = BatchWindow(200, 0.5, 10.0, clock)
    window.add()
    assert window.due_in() == pytest.approx(0.5)


def test_a_cleared_batch_starts_again_from_its_next_first_record(clock: ManualClock) -> None:
    window = BatchWindow(2, 0.5, 0.02, clock)
    window.add()
    window.add()
    window.clear()
    assert len(window) == 0
    assert not window.full
    assert window.due_in() is None
    clock.now += 10  # long after the last batch: the next one's times count from its own records
    window.add()
    assert window.due_in() == pytest.approx(0.02)


def test_a_batch_whose_first_record_waited_for_the_last_write_counts_its_time_from_the_arrival(
    clock: ManualClock,
) -> None:
    """A steady trickle during a 0.3 s write: the next batch is due 0.5 s after the record that
    arrived first, not 0.5 s after the write let it in."""
    window = BatchWindow(200, 0.5, 0.02, clock)
    arrived = clock.now
    clock.now += 0.3  # the previous batch being written
    window.add(arrived)
    for _ in range(19):  # more records every 10 ms: never quiet
        clock.now += 0.01
        window.add()
    assert clock.now == pytest.approx(arrived + 0.49)
    assert window.due_in() == pytest.approx(0.01)
    clock.now += 0.01
    window.add()
    assert window.due_in() == 0.0


def test_a_batch_whose_first_record_waited_past_the_batch_time_still_takes_in_what_waited(
    clock: ManualClock,
) -> None:
    """Due at once, it would leave with its first record alone; it waits `idle_s` from opening."""
    window = BatchWindow(200, 0.5, 0.02, clock)
    arrived = clock.now
    clock.now += 0.8  # a slow write
    window.add(arrived)
    assert window.due_in() == pytest.approx(0.02)
    clock.now += 0.001
    window.add()  # the records that queued behind it join at once
    window.add()
    assert window.due_in() == pytest.approx(0.019)
    clock.now += 0.019
    window.add()
    assert window.due_in() == 0.0  # and no later: it is overdue
    assert len(window) == 4
