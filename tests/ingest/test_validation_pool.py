"""Lines validated in worker processes: the same outcomes as in this process, in the file's order."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest import Rejected, SourceLine, Validation, ValidationPool, WorkerDied, decode_ndjson, read_ndjson
from schemas import EncodedEvent, EventTypeRegistry, RawEvent, event_to_json_dict, validate_event

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
REGISTRY = EventTypeRegistry.from_mapping(
    {"event_types": {"order.placed": {"measures": {"amount": {"type": "number", "min": 0}}}}}
)


def convert(data: Any, now: datetime) -> RawEvent:
    return validate_event(data, REGISTRY, received_at=now)


def order(i: int, amount: Any = 10) -> str:
    return orjson.dumps(
        {
            "event_id": f"ord-{i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": "2026-10-01T11:00:00Z",
            "measures": {"amount": amount},
        }
    ).decode()


@pytest.fixture
def file(tmp_path: Path) -> Path:
    """25 lines: orders, every seventh with a negative amount, line 12 not JSON, line 20 blank."""
    lines = [order(i, -1 if i % 7 == 0 else 10) for i in range(1, 26)]
    lines[11] = '{"event_id": broken'
    lines[19] = "   "
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def validation(**fields: Any) -> Validation:
    return Validation(convert, decode=decode_ndjson, clock=lambda: NOW, **fields)


def described(outcomes: list) -> list[tuple]:
    return [
        ("rejected", o.line, [(e.path, e.rule) for e in o.errors])
        if isinstance(o, Rejected)
        else ("event", o.event_id, o.partition, orjson.loads(o.json)["received_at"])
        for o in outcomes
    ]


def test_a_validation_decodes_converts_and_encodes_each_line(file: Path) -> None:
    outcomes = validation().run(list(read_ndjson(file, decoded=False)), 4)

    assert [o.line for o in outcomes if isinstance(o, Rejected)] == [7, 12, 14, 21]
    rejected = {o.line: o for o in outcomes if isinstance(o, Rejected)}
    assert [(e.path, e.rule) for e in rejected[7].errors] == [("measures.amount", "min")]
    assert [(e.path, e.rule) for e in rejected[12].errors] == [("$", "json")]
    assert rejected[12].text == '{"event_id": broken'
    events = [o for o in outcomes if isinstance(o, EncodedEvent)]
    assert len(events) == 20  # 25 lines, one blank, four rejected
    first = validate_event(orjson.loads(order(1)), REGISTRY, received_at=NOW)
    assert orjson.loads(events[0].json) == event_to_json_dict(first)
    assert events[0].json.endswith(b'"received_at":"2026-10-01T12:00:00.000000Z"}')  # the clock given


@pytest.mark.parametrize("jobs", [1, 3])
@pytest.mark.parametrize("chunk_lines", [1, 4, 100])
def test_the_pool_gives_what_one_process_gives_in_the_files_order(
    file: Path, jobs: int, chunk_lines: int
) -> None:
    alone = validation().run(list(read_ndjson(file, decoded=False)), 4)

    with ValidationPool(validation(), jobs) as pool:
        chunks = list(pool.outcomes(read_ndjson(file, decoded=False), 4, chunk_lines=chunk_lines))

    assert described([o for outcomes, _ in chunks for o in outcomes]) == described(alone)
    last_lines = [last for _, last in chunks]
    assert last_lines == sorted(last_lines) and last_lines[-1] == 25  # for the progress bar
    assert len(chunks) == -(-24 // chunk_lines)  # 24 lines that are not blank


def test_the_pool_reads_at_most_two_chunks_per_worker_ahead(tmp_path: Path) -> None:
    """A large file is not read into memory: the reader is asked for lines only as outcomes are taken."""
    read: list[int] = []

    def lines():
        for i in range(1, 1001):
            read.append(i)
            yield SourceLine(i, order(i))

    with ValidationPool(validation(), jobs=2) as pool:
        outcomes = pool.outcomes(lines(), 4, chunk_lines=10)
        next(outcomes)
        assert len(read) <= 10 * (2 * 2 + 1)
        assert sum(len(chunk) for chunk, _ in outcomes) == 990


def test_a_worker_inherits_what_it_runs_without_pickling_it(file: Path) -> None:
    """A conversion that cannot be pickled (a closure, a local clock) still runs in the workers."""
    seen_at = datetime(2027, 1, 1, tzinfo=UTC)
    local = Validation(
        functools.partial(lambda data, now: convert(data, now)), decode_ndjson, lambda: seen_at
    )
    with ValidationPool(local, jobs=2) as pool:
        events = [o for chunk, _ in pool.outcomes(read_ndjson(file, decoded=False), 4) for o in chunk]
    assert {orjson.loads(o.json)["received_at"] for o in events if isinstance(o, EncodedEvent)} == {
        "2027-01-01T00:00:00.000000Z"
    }


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        ValidationPool(validation(), 0)


def test_a_worker_that_dies_fails_the_outcomes_instead_of_leaving_them_waiting(file: Path) -> None:
    """A worker killed mid-chunk (the kernel's out-of-memory killer, say) ends the import with a reason."""

    def dies_at_line_9(data: Any, now: datetime) -> RawEvent:
        if data.get("event_id") == "ord-9":
            os._exit(137)  # as a process killed by signal 9 ends: no clean-up, no answer
        return convert(data, now)

    taken: list[int] = []
    died = r"before it answered for the lines after line (0|4|8);"
    with (
        ValidationPool(Validation(dies_at_line_9, decode_ndjson), jobs=2) as pool,
        pytest.raises(WorkerDied, match=died),
    ):
        for _, last in pool.outcomes(read_ndjson(file, decoded=False), 4, chunk_lines=4):
            taken.append(last)
    assert taken in ([], [4], [4, 8])  # chunks answered before the death come out; no later one
