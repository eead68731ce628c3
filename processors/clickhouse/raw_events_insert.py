"""Insert one sink batch into raw_events under a token that names the batch.

The token is the batch's place in the log (log id, partition, first and last offset), so a batch
retried after a crash carries the same token and ClickHouse keeps it once, in the table and in
every materialized view fed from it (`deduplicate_blocks_in_dependent_materialized_views`).
A large batch may reach ClickHouse as several blocks (the client sends native blocks of its own
size, and a batch spanning months is split per month part); each gets the token with its index,
and the same rows in the same order split the same way, which is why a replay rewrites a landed
range exactly as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import MAX_YEAR, MIN_YEAR, FieldError, InvalidFieldsError

from ._statement import Rows
from .raw_events_ddl import RAW_EVENTS_COLUMN_NAMES


@dataclass(frozen=True)
class BatchPosition:
    log: str
    partition: int
    first_offset: int
    last_offset: int
    # The sink run that first wrote the batch. A run killed inside an insert can leave ClickHouse
    # remembering a token whose rows never landed; a new run's fresh batches carry its own epoch,
    # so they never collide with such a token. A replay reuses the epoch the rows record.
    epoch: int = 0

    @property
    def token(self) -> str:
        return f"{self.log}:{self.partition}:{self.first_offset}-{self.last_offset}:{self.epoch}"


def parse_time(value: Any) -> datetime:
    """ISO 8601 with an offset, as the producer writes it, to an aware UTC datetime in ClickHouse's range."""
    if not isinstance(value, str):
        raise ValueError(f"time must be an ISO 8601 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    parsed = parsed.astimezone(UTC)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"time {value!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return parsed


def event_row(event: dict[str, Any], offset: int, received_at: datetime, position: BatchPosition) -> tuple:
    """One raw_events row from a canonical event dict; raises InvalidFieldsError if malformed.

    Records from okrstream's producers were validated before they were sent; these checks are
    the cheap ones that keep anything else from landing as "None", NaN or a year-1 time.
    """
    if not isinstance(event, dict):
        raise _malformed("$", f"an event must be a JSON object, got {type(event).__name__}")
    payload = event.get("payload")
    return (
        _text(event, "event_id"),
        _text(event, "source"),
        _text(event, "type"),
        _time(event, "occurred_at"),
        _time(event, "received_at") if event.get("received_at") else received_at,
        _text(event, "subject", required=False),
        {k: _dimension(k, v) for k, v in _mapping(event, "dimensions").items()},
        {k: _measure(k, v) for k, v in _mapping(event, "measures").items()},
        orjson.dumps(payload).decode() if payload is not None else "",
        position.log,
        position.partition,
        offset,
        position.first_offset,
        position.last_offset,
        position.epoch,
    )


def _malformed(path: str, message: str) -> InvalidFieldsError:
    return InvalidFieldsError([FieldError(path, message, "malformed_record")])


def _text(event: dict[str, Any], field: str, required: bool = True) -> str:
    value = event.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise _malformed(field, f"must be a non-empty string, got {value!r}")
    return value


def _time(event: dict[str, Any], field: str) -> datetime:
    try:
        return parse_time(event.get(field))
    except ValueError as e:
        raise _malformed(field, str(e)) from e


def _mapping(event: dict[str, Any], field: str) -> dict[str, Any]:
    value = event.get(field) or {}
    if not isinstance(value, dict):
        raise _malformed(field, f"must be an object, got {type(value).__name__}")
    return value


def _dimension(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _malformed(f"dimensions.{key}", f"must be a string, got {value!r}")
    return value


def _measure(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _malformed(f"measures.{key}", f"must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class InsertRawEvents:
    database: str
    position: BatchPosition
    rows: list[tuple]
    token: str | None = None  # default: the position's token
    cluster: str | None = None

    def settings(self) -> dict[str, Any]:
        """The insert's settings; they travel with the query, so on a cluster the Distributed
        table hands them, the token included, to the shard's insert into `raw_events_local`."""
        settings = {
            "insert_deduplicate": 1,
            "insert_deduplication_token": self.token or self.position.token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            # no server-side re-splitting beyond what the client sends (see the module docstring)
            "max_insert_block_size": max(len(self.rows), 1),
            "min_insert_block_size_rows": 0,
            "min_insert_block_size_bytes": 0,
        }
        if self.cluster is not None:
            # The block goes to its shard before the insert returns (not queued on this node to be
            # sent later), so the acknowledgement means a replica of the shard holds it. Every row
            # of a block has one kafka_partition, the sharding key: the block goes whole to one shard.
            settings["insert_distributed_sync"] = 1
        return settings

    def to_insert(self) -> Rows:
        return Rows("raw_events", self.database, self.rows, RAW_EVENTS_COLUMN_NAMES, self.settings())
