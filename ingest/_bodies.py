"""Request bodies of the HTTP ingest API, split into items before any event is validated.

A body fails whole (`BodyError`: the caller answers 4xx) only when it cannot be split at all:
an unknown content type or encoding, broken gzip, invalid UTF-8, malformed JSON. An NDJSON line
that is not JSON fails alone, as an item with an error, like a bad line of a file.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from schemas import FieldError, json_type_name


class BodyFormat(StrEnum):
    EVENTS = "application/json"  # one canonical event or an array of them
    NDJSON = "application/x-ndjson"
    CLOUDEVENT = "application/cloudevents+json"  # structured mode
    CLOUDEVENT_BATCH = "application/cloudevents-batch+json"
    CLOUDEVENT_BINARY = "binary"  # attributes in ce-* headers, the data in the body


class BodyError(Exception):
    """The whole request is refused: `status` (400, 413 or 415), a reason, and a stable rule code."""

    def __init__(self, status: int, message: str, rule: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rule = rule


@dataclass(frozen=True)
class BodyItem:
    """One event's worth of a body: its position, its text (for dead letters), and its JSON or why not."""

    index: int
    raw: str
    data: Any = None
    error: FieldError | None = None


_JSON_TYPES = {"application/json", "text/json"}


def body_format(content_type: str | None, headers: Mapping[str, str]) -> BodyFormat:
    """Which of the accepted formats a request is in; JSON with a `ce-specversion` header is binary mode."""
    media, params = _media_type(content_type)
    charset = params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise BodyError(415, f"charset must be utf-8, got {charset}", "charset")
    if media in _JSON_TYPES:
        return BodyFormat.CLOUDEVENT_BINARY if "ce-specversion" in headers else BodyFormat.EVENTS
    if media in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return BodyFormat.NDJSON
    if media == BodyFormat.CLOUDEVENT:
        return BodyFormat.CLOUDEVENT
    if media == BodyFormat.CLOUDEVENT_BATCH:
        return BodyFormat.CLOUDEVENT_BATCH
    accepted = ", ".join(f.value for f in BodyFormat if f is not BodyFormat.CLOUDEVENT_BINARY)
    shown = media or "none"
    raise BodyError(415, f"Content-Type must be one of {accepted}; got {shown}", "content_type")


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    media, *rest = (content_type or "").split(";")
    params = {}
    for part in rest:
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def decode_content(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body after `Content-Encoding` (identity or gzip), refusing more than `limit` bytes decoded.

    The limit holds while decompressing, so a small gzip bomb cannot fill memory.
    """
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, f"Content-Encoding must be gzip or identity, got {encoding}", "content_encoding")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        decoded = inflater.decompress(body, limit + 1)
        if len(decoded) > limit:
            raise BodyError(413, f"the body is larger than {limit} bytes once decompressed", "body_size")
        if not inflater.eof:
            raise BodyError(400, "the gzip body is truncated", "gzip")
    except zlib.error as e:
        raise BodyError(400, f"the body is not valid gzip: {e}", "gzip") from None
    return decoded


def split_body(body: bytes, fmt: BodyFormat) -> list[BodyItem]:
    """The items of a decoded body, in order; each keeps its own text."""
    text = _text(body)
    if fmt is BodyFormat.NDJSON:
        return _ndjson_items(text)
    if fmt is BodyFormat.CLOUDEVENT_BINARY:
        # binary mode: the body is the event's data, of any JSON type (or empty)
        return [BodyItem(0, text, _json(text) if text.strip() else None)]
    data = _json(text)
    if fmt is BodyFormat.CLOUDEVENT_BATCH and not isinstance(data, list):
        raise BodyError(400, f"a CloudEvents batch must be a JSON array, got {json_type_name(data)}", "batch")
    if fmt is BodyFormat.CLOUDEVENT and isinstance(data, list):
        raise BodyError(
            400, "a structured CloudEvent is one object; send arrays as cloudevents-batch+json", "batch"
        )
    if not isinstance(data, list):
        return [BodyItem(0, text, data)]
    return [BodyItem(i, orjson.dumps(value).decode(), value) for i, value in enumerate(data)]


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError(400, f"the body is not valid UTF-8 (byte {e.start})", "encoding") from None


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise BodyError(400, f"malformed JSON: {e}", "json") from None


def _ndjson_items(text: str) -> list[BodyItem]:
    items = []
    # only \n ends a line: JSON strings may hold U+2028 and other characters splitlines() breaks at
    for line in text.removeprefix("\ufeff").split("\n"):
        line = line.removesuffix("\r")
        if not line.strip(" \t\r"):  # blank: JSON whitespace only
            continue
        index = len(items)
        try:
            items.append(BodyItem(index, line, orjson.loads(line)))
        except orjson.JSONDecodeError as e:
            items.append(BodyItem(index, line, error=FieldError("$", f"invalid JSON: {e}", "json")))
    return items
