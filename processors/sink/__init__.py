"""The sink: batches of log records into `raw_events`, exactly once across retries and restarts."""

from ._raw_sink import RawEventsSink, SinkStats
from ._sink import BatchingSink, LogRecord, SinkBatch, SinkError

__all__ = [
    "BatchingSink",
    "LogRecord",
    "RawEventsSink",
    "SinkBatch",
    "SinkError",
    "SinkStats",
]
