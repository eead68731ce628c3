"""What a dead-letter record says: what failed, where, the raw input, and who rejected it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ._errors import FieldError, errors_json
from ._event import utc_iso

OKRSTREAM_VERSION = "0.1.0"
# of the raw input a dead letter keeps: with at most 100 bounded errors, a record stays far below
# the producer's 8 MiB, so an input of any size is dead-lettered instead of failing its request
DEAD_LETTER_RAW_BYTES = 256 * 1024
DEAD_LETTER_ERRORS = 100


def dead_letter_record(
    *,
    origin: str,
    errors: Iterable[FieldError],
    raw: str,
    failed_at: datetime,
    line: int | None = None,
    source: str | None = None,
    request: dict[str, Any] | None = None,
    processor: str = "okrstream",
    kafka: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready rejection, modelled on Snowplow's failed events: enough to fix and replay it.

        `origin` names where the input came from (a file path, an HTTP endpoint, a log position);
        `source` is the event's own source when it could be read; `request` says how it arrived
        over HTTP (content type, API key id, position in the body); `kafka` where a message of a
    foreign topic was read (topic, partition, offset, key, headers). A long raw input is kept as its
        first DEAD_LETTER_RAW_BYTES, with `raw_bytes` its whole size and `raw_truncated` set.
    """
    if failed_at.tzinfo is None:
        raise ValueError("failed_at must be timezone-aware")
    encoded = raw.encode("utf-8", "surrogatepass")
    kept = encoded[:DEAD_LETTER_RAW_BYTES].decode("utf-8", "ignore")  # never half a character
    shown, not_listed = errors_json(errors, DEAD_LETTER_ERRORS)
    record: dict[str, Any] = {
        "failed_at": utc_iso(failed_at),
        "origin": origin,
        "errors": shown,
        "raw": kept if len(encoded) > DEAD_LETTER_RAW_BYTES else raw,
        "raw_bytes": len(encoded),
        "raw_truncated": len(encoded) > DEAD_LETTER_RAW_BYTES,
        "processor": {"name": processor, "version": OKRSTREAM_VERSION},
    }
    if not_listed:
        record["errors_not_listed"] = not_listed
    if line is not None:
        record["line"] = line
    if source is not None:
        record["source"] = source
    if request is not None:
        record["request"] = request
    if kafka is not None:
        record["kafka"] = kafka
    return record
