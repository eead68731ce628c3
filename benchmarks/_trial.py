"""What the orchestrator tells a contestant process, and what the contestant reports back.

A contestant runs in its own process (chDB allows one data path per process) and prints one
line `RESULT {json}` on stdout when every event is queryable in its store.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

RESULT_PREFIX = "RESULT "


@dataclass(frozen=True)
class TrialSpec:
    contestant: str
    bootstrap_servers: str
    topic: str
    events: int  # how many events the topic holds, all distinct
    batch_size: int  # events per ClickHouse insert (for the contestants that take a size)
    record_events: int  # events per log record in okrstream-format topics
    data_dir: str  # this contestant's own chDB lives here
    database: str
    group: str  # consumer group id, fresh for every trial
    session_timeout_s: float  # Tansu lets a consumer join after about half of it
    timeout_s: float
    clickhouse_url: str | None = None  # a ClickHouse HTTP interface instead of chDB in data_dir

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TrialSpec:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Timing:
    """Wall-clock instants (seconds since the epoch) of one trial, and what landed."""

    assigned: float  # the consumer had its partitions (group join done)
    first_landed: float  # landed_at of the first insert, stamped by ClickHouse
    last_landed: float  # landed_at of the last insert, stamped by ClickHouse
    rows: int  # count() in the store at the end
    # okrstream only: when its sink's last insert returned, every KPI view it feeds written (the
    # sink's `okrstream_sink_last_insert_timestamp_seconds`); landed_at is stamped before they run
    last_written: float | None = None

    @property
    def end(self) -> float:
        """When the last event was queryable everywhere it goes: in every KPI rollup, if known."""
        return self.last_landed if self.last_written is None else self.last_written

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Timing:
        return cls(**json.loads(text))


def child_main(run: Callable[[TrialSpec], Timing]) -> None:
    """Entry point of a contestant process: `python -m benchmarks._NAME '<spec json>'`."""
    spec = TrialSpec.from_json(sys.argv[1])
    timing = run(spec)
    print(RESULT_PREFIX + timing.to_json(), flush=True)


def parse_result(stdout: str) -> Timing:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return Timing.from_json(line.removeprefix(RESULT_PREFIX))
    raise RuntimeError("the contestant printed no RESULT line")
