"""Request bodies of the HTTP ingest API, split into items before any event is validated.

A body fails whole (`BodyError`: the caller answers 4xx) only when it cannot be split at all:
an unknown content type or encoding, broken gzip, invalid UTF-8, malformed JSON, JSON nested
deeper than the limit. An NDJSON line that is not JSON, or nests too deep, fails alone, as an item
with an error, like a bad line of a file; so does an event whose text is over the size limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from schemas import FieldError, json_type_name, too_deep, too_deep_in_text


class BodyFormat(StrEnum):
    EVENTS = "application/json"  # one canonical event or an array of them
    NDJSON = "application/x-ndjson"
    CLOUDEVENT = "application/cloudevents+json"  # structured mode
    CLOUDEVENT_BATCH = "application/cloudevents-batch+json"
    CLOUDEVENT_BINARY = "binary"  # attributes in ce-* headers, the data in the body


class BodyError(Exception):
    """The whole request is refused: `status` (400, 413 or 415), a reason, and a stable rule code;
    `extra` says where and which limit, when there is one."""

    def __init__(self, status: int, message: str, rule: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rule = rule
        self.extra = extra or {}


@dataclass(frozen=True)
class BodyLimits:
    """What one event in a body may be: how deep its JSON nests, how long its text is."""

    max_depth: int = 64
    max_event_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class BodyItem:
    """One event's worth of a body: its position, its text (for dead letters), and its JSON or why not."""

    index: int
    raw: str
    data: Any = None
    error: FieldError | None = None


_JSON_TYPES = {"application/json", "text/json"}
_BATCHES = (BodyFormat.EVENTS, BodyFormat.CLOUDEVENT_BATCH)  # formats whose top-level array is a batch


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


def split_body(body: bytes, fmt: BodyFormat, limits: BodyLimits | None = None) -> list[BodyItem]:
    """The items of a decoded body, in order; each keeps its own text.

    Nesting is checked per event (the array around a batch does not count), before anything
    else reads the JSON: re-encoding it, or validating it, would recurse as deep as it goes.
    """
    limits = limits or BodyLimits()
    text = _text(body)
    if fmt is BodyFormat.NDJSON:
        return _ndjson_items(text, limits)
    if fmt is BodyFormat.CLOUDEVENT_BINARY:
        # binary mode: the body is the event's data, of any JSON type (or empty), at level 2
        data = _json(text, limits.max_depth, limits.max_depth - 1, "data") if text.strip() else None
        _refuse_deep(too_deep(data, limits.max_depth, level=2, prefix="data"), limits.max_depth)
        return [_sized(BodyItem(0, text, data), limits)]
    batch = fmt in _BATCHES and text.lstrip().startswith("[")
    data = _json(text, limits.max_depth, limits.max_depth + batch)
    if fmt is BodyFormat.CLOUDEVENT_BATCH and not isinstance(data, list):
        raise BodyError(400, f"a CloudEvents batch must be a JSON array, got {json_type_name(data)}", "batch")
    if fmt is BodyFormat.CLOUDEVENT and isinstance(data, list):
        raise BodyError(
            400, "a structured CloudEvent is one object; send arrays as cloudevents-batch+json", "batch"
        )
    if not isinstance(data, list):
        _refuse_deep(too_deep(data, limits.max_depth), limits.max_depth)
        return [_sized(BodyItem(0, text, data), limits)]
    for i, value in enumerate(data):
        _refuse_deep(too_deep(value, limits.max_depth, prefix=f"[{i}]"), limits.max_depth)
    return [_sized(BodyItem(i, orjson.dumps(value).decode(), value), limits) for i, value in enumerate(data)]


def _depth_message(limit: int, path: str) -> str:
    return f"JSON nested deeper than {limit} levels of objects and arrays at {path}; flatten it"


def _refuse_deep(path: str | None, limit: int) -> None:
    if path is not None:
        extra = {"path": path, "limit_depth": limit}
        raise BodyError(400, _depth_message(limit, path), "depth", extra)


def _sized(item: BodyItem, limits: BodyLimits) -> BodyItem:
    """The item, or the item rejected for its size: its dead letter keeps only a prefix of it."""
    if item.error is not None or len(item.raw) * 4 <= limits.max_event_bytes:
        return item  # a character is at most 4 bytes of UTF-8
    size = len(item.raw.encode())
    if size <= limits.max_event_bytes:
        return item
    message = f"the event is {size} bytes of JSON; at most {limits.max_event_bytes} allowed"
    return BodyItem(item.index, item.raw, item.data, FieldError("$", message, "event_size"))


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError(400, f"the body is not valid UTF-8 (byte {e.start})", "encoding") from None


def _json(text: str, limit: int, levels: int | None = None, prefix: str = "") -> Any:
    """Parsed JSON; a document orjson refuses as too deep is answered as such, with where.

    `levels` is how many levels the text itself may hold (`limit` less those around it, plus one
    for a batch's array), `prefix` its path.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        if _refused_as_deep(e):
            _refuse_deep(too_deep_in_text(text, limit if levels is None else levels, prefix), limit)
        raise BodyError(400, f"malformed JSON: {e}", "json") from None


def _refused_as_deep(error: orjson.JSONDecodeError) -> bool:
    reason = str(error).lower()
    return "depth" in reason or "recursion" in reason


def _ndjson_items(text: str, limits: BodyLimits) -> list[BodyItem]:
    items: list[BodyItem] = []
    # only \n ends a line: JSON strings may hold U+2028 and other characters splitlines() breaks at
    for line in text.removeprefix("\ufeff").split("\n"):
        line = line.removesuffix("\r")
        if not line.strip(" \t\r"):  # blank: JSON whitespace only
            continue
        index = len(items)
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            if _refused_as_deep(e):
                at = too_deep_in_text(line, limits.max_depth)
                error = FieldError(at, _depth_message(limits.max_depth, at), "depth")
            else:
                error = FieldError("$", f"invalid JSON: {e}", "json")
            items.append(BodyItem(index, line, error=error))
            continue
        if (where := too_deep(data, limits.max_depth)) is not None:
            error = FieldError(where, _depth_message(limits.max_depth, where), "depth")
            items.append(BodyItem(index, line, error=error))
        else:
            items.append(_sized(BodyItem(index, line, data), limits))
    return items
