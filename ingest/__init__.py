"""Getting events into the log: the broker, its topics, the producer, file import and the HTTP ingest API."""

from ._bodies import BodyError, BodyFormat, BodyItem, BodyLimits, body_format, decode_content, split_body
from ._broker import (
    Broker,
    BrokerError,
    BrokerWatch,
    die_with_parent,
    free_port,
    start_embedded_broker,
)
from ._files import SourceLine, read_csv, read_csv_rows, read_ndjson
from ._http_auth import Authenticator
from ._http_errors import ApiError, ErrorBody, install_error_handler, json_response
from ._http_ingest import EventIngest, EventResult, IdentityLookup, IngestResult, Outcome
from ._http_routes import IngestApi, ingest_router
from ._intake import EventIntake, IngestSummary
from ._journal import Journal, Segment, segments
from ._log_writer import KafkaLogWriter, LogUnavailable, LogWriter
from ._producer import EventProducer, ProducerError
from ._rate_limit import RateLimiter
from ._topics import ensure_topics, topic_specs

__all__ = [
    "ApiError",
    "Authenticator",
    "BodyError",
    "BodyFormat",
    "BodyItem",
    "BodyLimits",
    "Broker",
    "BrokerError",
    "BrokerWatch",
    "ErrorBody",
    "EventIngest",
    "EventIntake",
    "EventProducer",
    "EventResult",
    "IdentityLookup",
    "IngestApi",
    "IngestResult",
    "IngestSummary",
    "Journal",
    "KafkaLogWriter",
    "LogUnavailable",
    "LogWriter",
    "Outcome",
    "ProducerError",
    "RateLimiter",
    "Segment",
    "SourceLine",
    "body_format",
    "decode_content",
    "die_with_parent",
    "ensure_topics",
    "free_port",
    "ingest_router",
    "install_error_handler",
    "json_response",
    "read_csv",
    "read_csv_rows",
    "read_ndjson",
    "segments",
    "split_body",
    "start_embedded_broker",
    "topic_specs",
]
