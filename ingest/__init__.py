"""Getting events into the log: the broker and its topics, the log writers and their journal,
validation with dead letters (intake), file import (validated in worker processes), and foreign
topics translated into the log.
The HTTP ingest API is in `processors.api`."""

from ._broker import (
    Broker,
    BrokerError,
    BrokerWatch,
    die_with_parent,
    free_port,
    start_embedded_broker,
)
from ._collector import collect_garbage_rarely
from ._feeds import ForeignFeeds
from ._files import SourceLine, decode_ndjson, read_csv, read_csv_rows, read_ndjson
from ._group_offsets import GroupOffsets
from ._intake import EventIntake, IngestSummary
from ._journal import Journal, Segment, segments
from ._kafka import AcknowledgedSends, ProducerError, durable_producer
from ._log_writer import KafkaLogWriter, LogUnavailable, LogWriter
from ._producer import EventProducer
from ._topics import ensure_topics, topic_ids, topic_specs
from ._validation_pool import Rejected, Validation, ValidationPool, WorkerDied

__all__ = [
    "AcknowledgedSends",
    "Broker",
    "BrokerError",
    "BrokerWatch",
    "EventIntake",
    "EventProducer",
    "ForeignFeeds",
    "GroupOffsets",
    "IngestSummary",
    "Journal",
    "KafkaLogWriter",
    "LogUnavailable",
    "LogWriter",
    "ProducerError",
    "Rejected",
    "Segment",
    "SourceLine",
    "Validation",
    "ValidationPool",
    "WorkerDied",
    "collect_garbage_rarely",
    "decode_ndjson",
    "die_with_parent",
    "durable_producer",
    "ensure_topics",
    "free_port",
    "read_csv",
    "read_csv_rows",
    "read_ndjson",
    "segments",
    "start_embedded_broker",
    "topic_ids",
    "topic_specs",
]
