"""What a dead-letter record says: what failed, where, the raw input, and who rejected it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ._errors import FieldError
from ._event import utc_iso

OKRSTREAM_VERSION = "0.1.0"


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
) -> dict[str, Any]:
    """A JSON-ready rejection, modelled on Snowplow's failed events: enough to fix and replay it.

    `origin` names where the input came from (a file path, an HTTP endpoint, a log position);
    `source` is the event's own source when it could be read; `request` says how it arrived
    over HTTP (content type, API key id, position in the body).
    """
    if failed_at.tzinfo is None:
        raise ValueError("failed_at must be timezone-aware")
    record: dict[str, Any] = {
        "failed_at": utc_iso(failed_at),
        "origin": origin,
        "errors": [{"path": e.path, "message": e.message, "rule": e.rule} for e in errors],
        "raw": raw,
        "processor": {"name": processor, "version": OKRSTREAM_VERSION},
    }
    if line is not None:
        record["line"] = line
    if source is not None:
        record["source"] = source
    if request is not None:
        record["request"] = request
    return record
