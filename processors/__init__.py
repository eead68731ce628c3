"""Streaming events from the log into ClickHouse, and the process that runs it all."""

from ._raw_sink import RawEventsSink, SinkStats
from ._sink import BatchingSink, LogRecord, SinkBatch, SinkError
from ._worker import build_app

__all__ = ["BatchingSink", "LogRecord", "RawEventsSink", "SinkBatch", "SinkError", "SinkStats", "build_app"]
