"""Getting events into the log: the broker, its topics, the producer, and file import."""

from ._broker import Broker, BrokerError, free_port, resolve_broker, start_embedded_broker
from ._files import SourceLine, read_csv, read_ndjson
from ._intake import EventIntake, IngestSummary
from ._producer import EventProducer, ProducerError
from ._topics import ensure_topics, topic_specs

__all__ = [
    "Broker",
    "BrokerError",
    "EventIntake",
    "EventProducer",
    "IngestSummary",
    "ProducerError",
    "SourceLine",
    "ensure_topics",
    "free_port",
    "read_csv",
    "read_ndjson",
    "resolve_broker",
    "start_embedded_broker",
    "topic_specs",
]
