"""Splitting HTTP request bodies: formats by content type, gzip within a limit, and exact refusals."""

from __future__ import annotations

import gzip

import orjson
import pytest

from processors.api import (
    BodyError,
    BodyFormat,
    BodyItem,
    BodyLimits,
    body_format,
    decode_content,
    split_body,
)
from schemas import FieldError


@pytest.mark.parametrize(
    ("content_type", "headers", "expected"),
    [
        ("application/json", {}, BodyFormat.EVENTS),
        ("Application/JSON; charset=UTF-8", {}, BodyFormat.EVENTS),
        ("application/json", {"ce-specversion": "1.0"}, BodyFormat.CLOUDEVENT_BINARY),
        ("application/x-ndjson", {}, BodyFormat.NDJSON),
        ("application/jsonl", {}, BodyFormat.NDJSON),
        ("application/cloudevents+json; charset=utf-8", {}, BodyFormat.CLOUDEVENT),
        ("application/cloudevents-batch+json", {}, BodyFormat.CLOUDEVENT_BATCH),
    ],
)
def test_body_format_follows_the_content_type(content_type, headers, expected) -> None:
    assert body_format(content_type, headers) is expected


@pytest.mark.parametrize(
    ("content_type", "rule", "message"),
    [
        ("text/plain", "content_type", "Content-Type must be one of application/json, application/x-ndjson,"),
        (None, "content_type", "got none"),
        ("application/json; charset=latin-1", "charset", "charset must be utf-8, got latin-1"),
    ],
)
def test_other_content_types_are_refused_with_415(content_type, rule, message) -> None:
    with pytest.raises(BodyError) as refused:
        body_format(content_type, {})
    assert (refused.value.status, refused.value.rule) == (415, rule)
    assert message in refused.value.message


def test_gzip_is_inflated_and_identity_passes_through() -> None:
    body = orjson.dumps([{"a": 1}])
    assert decode_content(gzip.compress(body), "gzip", 1000) == body
    assert decode_content(body, None, 1000) == body
    assert decode_content(body, "identity", 1000) == body


@pytest.mark.parametrize(
    ("body", "encoding", "status", "rule"),
    [
        (gzip.compress(b" " * 2001), "gzip", 413, "body_size"),  # a bomb stops at the limit
        (b"not gzip", "gzip", 400, "gzip"),
        (gzip.compress(b"[1, 2]")[:-12], "gzip", 400, "gzip"),  # truncated
        (b"{}", "br", 415, "content_encoding"),
    ],
)
def test_bad_encodings_are_refused(body, encoding, status, rule) -> None:
    with pytest.raises(BodyError) as refused:
        decode_content(body, encoding, 2000)
    assert (refused.value.status, refused.value.rule) == (status, rule)


def test_a_json_array_splits_into_items_with_their_own_text() -> None:
    items = split_body(b'[{"event_id": "a"}, 7]', BodyFormat.EVENTS)
    assert items == [BodyItem(0, '{"event_id":"a"}', {"event_id": "a"}), BodyItem(1, "7", 7)]
    assert split_body(b' {"event_id": "a"} ', BodyFormat.EVENTS) == [
        BodyItem(0, ' {"event_id": "a"} ', {"event_id": "a"})
    ]


def test_ndjson_lines_fail_alone() -> None:
    items = split_body('\ufeff{"a": 1}\n\n{broken\r\n[2]\n'.encode(), BodyFormat.NDJSON)
    assert [item.index for item in items] == [0, 1, 2]
    assert items[0] == BodyItem(0, '{"a": 1}', {"a": 1})
    assert items[1].raw == "{broken" and items[1].data is None
    error = items[1].error
    assert isinstance(error, FieldError) and (error.path, error.rule) == ("$", "json")
    assert items[2] == BodyItem(2, "[2]", [2])


def test_binary_mode_keeps_the_body_as_the_data() -> None:
    assert split_body(b'{"amount": 5}', BodyFormat.CLOUDEVENT_BINARY) == [
        BodyItem(0, '{"amount": 5}', {"amount": 5})
    ]
    assert split_body(b"", BodyFormat.CLOUDEVENT_BINARY) == [BodyItem(0, "", None)]


@pytest.mark.parametrize(
    ("body", "fmt", "rule"),
    [
        (b"[{", BodyFormat.EVENTS, "json"),
        (b'{"a": "\xff"}', BodyFormat.EVENTS, "encoding"),
        (b'{"a": 1}', BodyFormat.CLOUDEVENT_BATCH, "batch"),
        (b'[{"a": 1}]', BodyFormat.CLOUDEVENT, "batch"),
        (b"\xff\n", BodyFormat.NDJSON, "encoding"),
    ],
)
def test_bodies_that_cannot_be_split_are_refused_with_400(body, fmt, rule) -> None:
    with pytest.raises(BodyError) as refused:
        split_body(body, fmt)
    assert (refused.value.status, refused.value.rule) == (400, rule)


def test_only_a_line_feed_ends_an_ndjson_line() -> None:
    """JSON strings may hold U+2028, U+2029 and U+0085 raw; str.splitlines() would break there."""
    line = '{"subject": "a\u2028b\u2029c\u0085d"}'
    assert split_body(f"{line}\r\n{line}".encode(), BodyFormat.NDJSON) == [
        BodyItem(0, line, {"subject": "a\u2028b\u2029c\u0085d"}),
        BodyItem(1, line, {"subject": "a\u2028b\u2029c\u0085d"}),
    ]


def _refusal(body: bytes, fmt: BodyFormat, limits: BodyLimits) -> BodyError:
    with pytest.raises(BodyError) as refused:
        split_body(body, fmt, limits)
    return refused.value


@pytest.mark.parametrize(
    ("body", "fmt", "path"),
    [
        (b'{"a": {"b": [[1]]}}', BodyFormat.EVENTS, "a.b[0]"),
        (b'[{}, {"a": {"b": [[1]]}}]', BodyFormat.EVENTS, "[1].a.b[0]"),
        (b'[{"data": {"x": [[]]}}]', BodyFormat.CLOUDEVENT_BATCH, "[0].data.x[0]"),
        (b'{"x": [[1]]}', BodyFormat.CLOUDEVENT_BINARY, "data.x[0]"),  # the body is data, at level 2
        (b'{"a": ' * 1100 + b"1" + b"}" * 1100, BodyFormat.EVENTS, "a.a.a"),  # past what orjson reads
        (b'[{"k": ' + b"[" * 1100 + b"]" * 1100 + b"}]", BodyFormat.EVENTS, "[0].k[0][0]"),
        (b"[" * 1100 + b"]" * 1100, BodyFormat.CLOUDEVENT_BINARY, "data[0][0]"),
    ],
)
def test_json_nested_deeper_than_the_limit_is_refused_with_where(body, fmt, path) -> None:
    """Three levels, counting the event (not a batch's array): the path names the fourth."""
    refused = _refusal(body, fmt, BodyLimits(max_depth=3))
    assert (refused.status, refused.rule, refused.extra) == (400, "depth", {"path": path, "limit_depth": 3})
    assert f"deeper than 3 levels of objects and arrays at {path}" in refused.message


def test_json_at_the_depth_limit_is_split_as_usual() -> None:
    limits = BodyLimits(max_depth=3)
    assert split_body(b'[{"a": {"b": [1]}}]', BodyFormat.EVENTS, limits)[0].data == {"a": {"b": [1]}}
    assert split_body(b'{"x": [1]}', BodyFormat.CLOUDEVENT_BINARY, limits)[0].data == {"x": [1]}


def test_an_ndjson_line_nested_too_deep_fails_alone() -> None:
    lines = b'{"ok": 1}\n{"a": {"b": {"c": {}}}}\n' + b"[" * 1100 + b"]" * 1100
    items = split_body(lines, BodyFormat.NDJSON, BodyLimits(max_depth=3))
    assert items[0].error is None
    assert [(i.error.path, i.error.rule) for i in items[1:]] == [("a.b.c", "depth"), ("[0][0][0]", "depth")]


def test_an_event_over_the_size_limit_is_an_item_with_an_error() -> None:
    big = orjson.dumps({"event_id": "big", "note": "é" * 600})
    items = split_body(
        b"[" + big + b', {"event_id": "small"}]', BodyFormat.EVENTS, BodyLimits(max_event_bytes=1024)
    )
    assert items[0].error == FieldError(
        "$", f"the event is {len(big)} bytes of JSON; at most 1024 allowed", "event_size"
    )
    assert items[0].data["event_id"] == "big"  # what it claims still shows in its result
    assert items[1].error is None
