"""ClickHouse access: one module per query or DDL concern, each an object with `to_sql()`."""

from ._client import chdb_path, connect, describe
from ._schema import ensure_schema
from ._statement import Statement, execute, fetch
from .event_counts import EventCounts, TypeCount
from .landed_batches import LandedBatch, LandedBatches
from .raw_events_ddl import RAW_EVENTS_COLUMNS, CreateDatabase, CreateRawEvents
from .raw_events_insert import BatchPosition, InsertRawEvents, event_row, parse_time
from .seen_events import SeenEvents

__all__ = [
    "RAW_EVENTS_COLUMNS",
    "BatchPosition",
    "CreateDatabase",
    "CreateRawEvents",
    "EventCounts",
    "InsertRawEvents",
    "LandedBatch",
    "LandedBatches",
    "SeenEvents",
    "Statement",
    "TypeCount",
    "chdb_path",
    "connect",
    "describe",
    "ensure_schema",
    "event_row",
    "execute",
    "fetch",
    "parse_time",
]
