"""Fuzzing the HTTP ingest API over real HTTP, on the real broker and store: no 5xx, no crash, and no
event in the log that breaks its schema.

Schemathesis drives the endpoints from the service's own OpenAPI document; hypothesis drives
`POST /v1/events` with canonical events, mostly valid and deliberately broken, and checks every
answer against `validate_event` computed here, independently of the service.
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import math
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from processors.runtime import load_mappings, load_registry
from schemas import EventTypeRegistry, EventValidationError, errors_json, validate_event

NDJSON = "application/x-ndjson"
EVENT_MEDIA_TYPES = (
    "application/json",
    NDJSON,
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
)
# Hypothesis warns when the `random` module's state moves while it draws an example. Here other
# threads of this process move it: kafka-python's clients (the API's log writer, the test's
# consumers) draw their backoff jitter and node order from it. None of it decides an example, so
# the warning says nothing about these tests.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning"
)

# deadline off: the broker's first appends are slow; the database off: no files outside tmp dirs
FUZZ = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schemathesis.serializer(NDJSON)
def _ndjson_body(ctx, value: Any) -> bytes:
    """The document types NDJSON as a string, sent as is; any other value goes one JSON value per line."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")  # lone surrogates: a body that is not UTF-8
    values = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(v) for v in values).encode()


def _only_media_type(document: dict, path: str, media_type: str, schema: dict | None = None) -> dict:
    """The document with one request media type for `path`: schemathesis then generates only that one."""
    narrowed = copy.deepcopy(document)
    content = narrowed["paths"][path]["post"]["requestBody"]["content"]
    body = {"schema": schema} if schema is not None else content[media_type]
    narrowed["paths"][path]["post"]["requestBody"]["content"] = {media_type: body}
    return narrowed


def _identities(answer: requests.Response, status: str) -> list[tuple[str, str]]:
    if answer.status_code not in (200, 207, 422):
        return []
    return [(r["source"], r["event_id"]) for r in answer.json()["results"] if r["status"] == status]


# (path, media type, request schema): None keeps the document's; "events" sends NDJSON lines drawn
# from the event schema, since a free string rarely holds a JSON line
SCHEMATHESIS_TARGETS = [
    *(pytest.param("/v1/events", t, None, id=f"events {t}") for t in EVENT_MEDIA_TYPES),
    pytest.param("/v1/events", NDJSON, "events", id="events ndjson lines"),
    *(
        pytest.param("/v1/webhooks/{mapping}", t, None, id=f"webhooks {t}")
        for t in ("application/json", NDJSON)
    ),
]


@pytest.mark.parametrize(("path", "media_type", "request_schema"), SCHEMATHESIS_TARGETS)
def test_schemathesis_from_the_openapi_document_finds_no_server_error(
    serve_api, settings, logged, path: str, media_type: str, request_schema: str | None
) -> None:
    """Every generated request, valid or negated, gets a documented 4xx or 2xx with the documented body.

    What the service accepted is exactly what the log holds, and all of it passes validation.
    """
    api = serve_api()
    auth = {"Authorization": f"Bearer {api.create_key()}"}
    document = api.request("GET", "/openapi.json").json()
    assert set(document["paths"]["/v1/events"]["post"]["requestBody"]["content"]) == set(EVENT_MEDIA_TYPES)
    schema_override = None
    if request_schema == "events":
        json_body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        schema_override = {"type": "array", "minItems": 1, "items": json_body["oneOf"][0]}
    schema = schemathesis.openapi.from_dict(_only_media_type(document, path, media_type, schema_override))
    operation = schema[path]["POST"]
    pinned = [{}]
    if path.endswith("{mapping}"):
        pinned += [{"mapping": name} for name in sorted(load_mappings(settings).mappings)]
    strategy = st.one_of(
        operation.as_strategy(mode, path_parameters=parameters or None)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for parameters in pinned
    )
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    accepted: list[tuple[str, str]] = []
    seen_statuses: Counter[int] = Counter()

    with requests.Session() as session:

        @FUZZ
        @given(case=strategy)
        def fuzz(case) -> None:
            answer = case.call(base_url=api.url, session=session, headers=auth, timeout=60)
            seen_statuses[answer.status_code] += 1
            case.validate_response(answer, checks=checks, headers=auth)
            assert isinstance(answer.json(), dict)  # every answer is a JSON object
            accepted.extend(_identities(answer, "accepted"))

        fuzz()

    assert api.request("GET", "/health").status_code == 200
    assert seen_statuses, "no request was sent"
    registry = load_registry(settings)
    in_log = logged("raw")
    for event in in_log:
        validate_event(event, registry)
    assert Counter((e["source"], e["event_id"]) for e in in_log) == Counter(accepted)


# --- canonical events, with an independent oracle -------------------------------------------------

_serial = itertools.count()
_RUN = uuid.uuid4().hex[:8]


def _fresh_id() -> str:
    """Unique per generated event, so that a duplicate is always one the test made on purpose."""
    return f"fz-{_RUN}-{next(_serial)}"


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # any unicode but lone surrogates
_odd_text = st.one_of(
    _text,
    st.sampled_from(
        ["", " ", "\x00", "\u202eevil", "e\u0301", "\U0001f600" * 5, "\ufeff", "a\u2028b", "\x85"]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1000, max_size=1100),
)
_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_key = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_offset = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
_moment = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2299, 12, 30))


@st.composite
def _time(draw) -> str:
    text = draw(_moment).replace(tzinfo=draw(_offset)).isoformat()
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


def _measure(spec) -> st.SearchStrategy[float | int]:
    low = spec.min if spec.min is not None else -1e9
    high = spec.max if spec.max is not None else 1e9
    if spec.type == "integer":
        return st.integers(math.ceil(low), math.floor(high))
    return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
        math.ceil(low), math.floor(high)
    )


@st.composite
def valid_events(draw, registry: EventTypeRegistry) -> dict[str, Any]:
    """An event its type's contract accepts: a declared type with its fields, or an undeclared one."""
    undeclared = st.from_regex(r"[a-z][a-z0-9_]{0,8}\.[a-z][a-z0-9_]{0,8}", fullmatch=True)
    type_ = draw(st.sampled_from(sorted(registry.event_types)) | undeclared)
    contract = registry.event_types.get(type_)
    dimensions = draw(st.dictionaries(_key, _text, max_size=3))
    measures = draw(st.dictionaries(_key, st.floats(allow_nan=False, allow_infinity=False), max_size=2))
    if contract is not None:
        for name in (*contract.dimensions, *contract.measures):
            dimensions.pop(name, None)
            measures.pop(name, None)
        dimensions |= {name: draw(_text) for name in contract.dimensions}
        measures |= {name: draw(_measure(spec)) for name, spec in contract.measures.items()}
    event = {
        "event_id": _fresh_id(),
        "type": type_,
        "source": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,20}", fullmatch=True)),
        "occurred_at": draw(_time()),
        "dimensions": dimensions,
        "measures": measures,
    }
    if draw(st.booleans()):
        event["subject"] = draw(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40))
    if draw(st.booleans()):
        event["payload"] = draw(_json)
    return event


_WRONG = st.one_of(
    _json_scalar, st.lists(st.integers(), max_size=2), st.dictionaries(_text, st.integers(), max_size=2)
)
_FIELDS = ("event_id", "type", "source", "occurred_at", "subject", "dimensions", "measures", "payload")


@st.composite
def broken_events(draw, registry: EventTypeRegistry) -> dict[str, Any]:
    """A valid event with one deliberate defect (the oracle, not this strategy, says if it is fatal)."""
    event = draw(valid_events(registry))
    defect = draw(
        st.sampled_from(
            [
                "wrong type",
                "naive time",
                "time out of range",
                "nan-like measure",
                "bad id",
                "bad type",
                "bad source",
                "odd unicode",
                "extra field",
                "missing field",
                "bad key",
                "too many keys",
                "huge payload",
            ]
        )
    )
    if defect == "wrong type":
        event[draw(st.sampled_from(_FIELDS))] = draw(_WRONG)
    elif defect == "naive time":
        event["occurred_at"] = draw(_moment).isoformat(sep=draw(st.sampled_from("T ")))
    elif defect == "time out of range":
        event["occurred_at"] = draw(
            st.sampled_from(
                [
                    "1969-12-31T23:59:59Z",
                    "1970-01-01T00:30:00+01:00",
                    "2300-01-01T00:00:00Z",
                    "2299-12-31T23:30:00-01:00",
                    "0001-01-01T00:00:00+01:00",
                    "9999-12-31T23:59:59-23:59",
                    "2026-02-30T00:00:00Z",
                    "not a time",
                    "",
                ]
            )
        )
    elif defect == "nan-like measure":
        name = draw(st.sampled_from([*event["measures"], "amount"]))
        event["measures"][name] = draw(
            st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "12", "", True, None])
        )
    elif defect == "bad id":
        event["event_id"] = draw(
            st.sampled_from(["", " ", "-lead", "has space", "ü", "x" * 129, "a\nb", ".dot", "a#b"])
            | _odd_text
        )
    elif defect == "bad type":
        event["type"] = draw(
            st.sampled_from(["Order.placed", "order", "order..placed", "a." + "b" * 99]) | _text
        )
    elif defect == "bad source":
        event["source"] = draw(st.sampled_from(["", " shop", "shop=1", "x" * 201]) | _odd_text)
    elif defect == "odd unicode":
        where = draw(st.sampled_from(["dimension", "subject", "payload"]))
        if where == "dimension":
            event["dimensions"][draw(_key)] = draw(_odd_text)
        elif where == "subject":
            event["subject"] = draw(_odd_text)
        else:
            event["payload"] = {draw(_odd_text): draw(_odd_text)}
    elif defect == "extra field":
        event[draw(st.sampled_from(["received", "id", "time", "data", "Event_ID", ""]) | _text)] = draw(_json)
    elif defect == "missing field":
        required = ["event_id", "type", "source", "occurred_at"]
        contract = registry.event_types.get(event["type"])
        if contract is not None:
            required += [f"dimensions.{n}" for n in contract.dimensions]
            required += [f"measures.{n}" for n in contract.measures]
        group, _, name = draw(st.sampled_from(required)).partition(".")
        (event[group] if name else event).pop(name or group, None)
    elif defect == "bad key":
        group = draw(st.sampled_from(["dimensions", "measures"]))
        event[group][draw(st.sampled_from(["Region", "1x", "", "a" * 65, "a-b", "ü"]))] = (
            "v" if group == "dimensions" else 1
        )
    elif defect == "too many keys":
        event["dimensions"] |= {f"k{i}": "v" for i in range(65)}
    elif defect == "huge payload":
        event["payload"] = {"blob": "x" * draw(st.integers(65_000, 66_000))}
    return event


_BLANK = st.sampled_from(["", " ", "\t", "\r", "  \t "])
_JUNK_LINE = st.one_of(
    st.sampled_from(
        ["{not json", "NaN", "[1,", "}", '{"a": 1e999}', "undefined", "'single'", '{"a":}', "\ufeff{}"]
    ),
    st.text(
        st.characters(
            exclude_categories=("Cs",), exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
        ),
        min_size=1,
        max_size=20,
    ).filter(str.strip),  # whitespace-only lines are blank, not junk
)
JUNK = object()  # an NDJSON line that is not JSON


def _strict_json(text: str) -> Any:
    """RFC 8259 JSON or JUNK: no NaN or Infinity tokens, no number that overflows a double."""

    def refuse(token: str) -> Any:
        raise ValueError(token)

    def finite(token: str) -> float:
        number = float(token)
        if not math.isfinite(number):
            raise ValueError(token)
        return number

    try:
        return json.loads(text, parse_constant=refuse, parse_float=finite)
    except ValueError:
        return JUNK


def _ndjson_items(text: str) -> list[Any]:
    """Lines split as NDJSON says (on LF, an optional CR before it); blank lines hold no event."""
    lines = (line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n"))
    return [_strict_json(line) for line in lines if line.strip(" \t\r")]


def _resent(resend: list[dict], i: int) -> dict:
    """An event sent before (a deliberate duplicate); drawn by index so the draws never depend on state."""
    if resend:
        return resend[i % len(resend)]
    return {"event_id": _fresh_id(), "type": "x.y", "source": "s", "occurred_at": "2026-01-01T00:00:00Z"}


@st.composite
def requests_of_events(draw, registry: EventTypeRegistry, resend: list[dict]) -> dict[str, Any]:
    """One POST /v1/events: its body, headers, and the items the body holds (JUNK for a non-JSON line)."""
    item = st.one_of(
        valid_events(registry),
        valid_events(registry),
        broken_events(registry),
        st.integers(0, 2**16).map(lambda i: _resent(resend, i)),
        _json_scalar,
        st.lists(_json_scalar, max_size=2),
    )
    items = draw(st.lists(item, min_size=1, max_size=8))
    for _ in range(draw(st.integers(0, 2))):  # copies inside one request
        items.insert(draw(st.integers(0, len(items))), draw(st.sampled_from(items)))
    ascii_only = draw(st.booleans())
    shape = draw(st.sampled_from(["one", "array", "ndjson"]))
    if shape == "one" and not isinstance(items[0], list):  # a top-level array is a batch
        items = items[:1]
        text = json.dumps(items[0], ensure_ascii=ascii_only)
        content_type = draw(
            st.sampled_from(["application/json", "application/json; charset=utf-8", "text/json"])
        )
    elif shape in ("one", "array"):
        text = json.dumps(items, ensure_ascii=ascii_only)
        content_type = "application/json"
    else:
        lines = [json.dumps(i, ensure_ascii=ascii_only) for i in items]
        for _ in range(draw(st.integers(0, 3))):
            lines.insert(draw(st.integers(0, len(lines))), draw(_JUNK_LINE | _BLANK))
        text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
        content_type = draw(st.sampled_from([NDJSON, "application/jsonl", "application/x-jsonlines"]))
        items = _ndjson_items(text)
    body = text.encode()
    headers = {"Content-Type": content_type}
    if draw(st.booleans()):
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    return {"body": body, "headers": headers, "items": items, "shape": shape}


_BROKEN_BODIES = [  # (body, headers, status): refused whole, nothing written
    (b'[{"event_id": "a"', {}, 400),
    (b'{"a": NaN}', {}, 400),
    (b'{"a": 1e999}', {}, 400),
    (b"[]", {}, 400),
    (b"", {}, 400),
    (b'{"event_id": "\xff"}', {}, 400),
    (b"{}", {"Content-Encoding": "gzip"}, 400),
    (gzip.compress(b"{}")[:-4], {"Content-Encoding": "gzip"}, 400),
    (b"{}", {"Content-Encoding": "br"}, 415),
    (b"{}", {"Content-Type": "text/plain"}, 415),
    (b"{}", {"Content-Type": "application/json; charset=latin-1"}, 415),
    (b'[{"specversion": "1.0"}]', {"Content-Type": "application/cloudevents+json"}, 400),
]


def _expected(item: Any, registry: EventTypeRegistry, seen: set[tuple[str, str]]) -> dict[str, Any]:
    """What the service must answer for one item, worked out here and not by asking it.

    `seen` holds the identities already in the log, and gains this item's when it is valid.
    """
    if item is JUNK:
        return {"status": "rejected", "rules": [("$", "json")]}
    try:
        event = validate_event(item, registry)
    except EventValidationError as e:
        return {"status": "rejected", "errors": errors_json(e.errors)[0]}
    status = "duplicate" if event.identity in seen else "accepted"
    seen.add(event.identity)
    return {"status": status, "event_id": event.event_id, "source": event.source}


def test_hypothesis_canonical_events_are_judged_exactly_as_validate_event_judges_them(
    serve_api, settings, logged
) -> None:
    """Each item's answer is the oracle's (accepted or duplicate iff valid), in request order.

    Afterwards the log holds every accepted identity exactly once and nothing else, every logged event
    is valid, and every rejected item became a dead letter.
    """
    api = serve_api()
    key = api.create_key()
    registry = load_registry(settings)
    seen: set[tuple[str, str]] = set()
    resend: list[dict] = []
    accepted: list[tuple[str, str]] = []
    rejected = 0
    outcomes: Counter[str] = Counter()

    with requests.Session() as session:

        def post(body: bytes, headers: dict[str, str]) -> requests.Response:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"} | headers
            return session.post(f"{api.url}/v1/events", data=body, headers=headers, timeout=60)

        @FUZZ
        @given(data=st.data())
        def fuzz(data) -> None:
            nonlocal rejected
            if data.draw(st.integers(0, 9), label="broken body?") == 0:
                body, headers, status = data.draw(st.sampled_from(_BROKEN_BODIES), label="broken body")
                answer = post(body, headers)
                assert answer.status_code == status, answer.text
                assert answer.json()["rule"] and answer.json()["error"]
                return
            request = data.draw(requests_of_events(registry, resend), label="request")
            answer = post(request["body"], request["headers"])
            assert answer.status_code in (200, 207, 400, 413, 415, 422), answer.text
            trial = set(seen)
            expected = [_expected(item, registry, trial) for item in request["items"]]
            body = answer.json()
            # follow what the service did, so one wrong answer does not cascade into the next examples
            outcomes.update(r["status"] for r in body.get("results", []))
            answered = [r for r in body.get("results", []) if r["status"] != "rejected"]
            seen.update((r["source"], r["event_id"]) for r in answered)
            accepted.extend((r["source"], r["event_id"]) for r in answered if r["status"] == "accepted")
            rejected += body.get("rejected", 0)
            resend.extend(
                i for i, e in zip(request["items"], expected, strict=True) if e["status"] != "rejected"
            )
            statuses = [e["status"] for e in expected]
            assert [r["index"] for r in body["results"]] == list(range(len(expected))), body
            assert [r["status"] for r in body["results"]] == statuses, body
            for got, want in zip(body["results"], expected, strict=True):
                if "rules" in want:
                    assert [(e["path"], e["rule"]) for e in got["errors"]] == want["rules"]
                elif "errors" in want:
                    assert got["errors"] == want["errors"]
                else:
                    assert (got["event_id"], got["source"]) == (want["event_id"], want["source"])
            counts = Counter(statuses)
            assert (body["accepted"], body["duplicates"], body["rejected"]) == (
                counts["accepted"],
                counts["duplicate"],
                counts["rejected"],
            )
            all_rejected = counts["rejected"] == len(statuses)
            assert answer.status_code == (422 if all_rejected else 207 if counts["rejected"] else 200)

        fuzz()

    assert api.request("GET", "/health").status_code == 200
    assert outcomes.keys() == {"accepted", "duplicate", "rejected"}, outcomes  # the generator did its job
    in_log = logged("raw")
    for event in in_log:
        validate_event(event, registry)
    logged_identities = Counter((e["source"], e["event_id"]) for e in in_log)
    assert logged_identities == Counter(accepted)
    assert set(logged_identities.values()) <= {1}
    assert len(logged("deadletter")) == rejected


def test_an_ndjson_line_with_a_unicode_line_separator_inside_a_string_is_one_event(serve_api, logged) -> None:
    """JSON allows these characters raw inside strings, and NDJSON separates lines by LF only."""
    api = serve_api()
    lines = [
        json.dumps(
            {
                "event_id": f"sep-{i}",
                "type": "x.y",
                "source": "s",
                "occurred_at": "2026-01-01T00:00:00Z",
                "subject": f"a{char}b",
            },
            ensure_ascii=False,
        )
        for i, char in enumerate(["\u2028", "\u2029", "\x85"])
    ]
    answer = api.request(
        "POST",
        "/v1/events",
        api.create_key(),
        content="\n".join(lines).encode(),
        headers={"Content-Type": NDJSON},
    )
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 3
    assert sorted(e["subject"] for e in logged("raw")) == ["a\x85b", "a\u2028b", "a\u2029b"]


# --- JSON nested deeper than anything reads recursively ---------------------------------------------

DEPTH_LIMIT = 64  # the default of OKRSTREAM_HTTP_MAX_JSON_DEPTH, counting the event itself
_wrapper = st.one_of(st.just("["), st.from_regex(r"[a-z]{1,3}", fullmatch=True))  # an array, or a key


@st.composite
def nested_json(draw) -> tuple[str, list[str]]:
    """JSON text of objects and arrays inside one another, from none to past orjson's 1024 levels,
    written as text: the encoders the service once crashed in cannot produce it either."""
    levels = draw(st.one_of(st.integers(0, 70), st.integers(250, 300), st.integers(1000, 1100)))
    kinds = draw(st.lists(_wrapper, min_size=levels, max_size=levels))
    leaf = json.dumps(draw(_json_scalar))
    opening = "".join("[" if kind == "[" else f'{{"{kind}": ' for kind in kinds)
    closing = "".join("]" if kind == "[" else "}" for kind in reversed(kinds))
    return opening + leaf + closing, kinds


def _path_into(kinds: list[str], prefix: str) -> str:
    """Where the nesting passes the limit: the path of its first level past it, from `prefix`."""
    path = prefix
    for kind in kinds:
        path += "[0]" if kind == "[" else (f".{kind}" if path else kind)
    return path


def test_hypothesis_deeply_nested_json_anywhere_gets_a_4xx_that_says_where_never_a_5xx(serve_api) -> None:
    """In a payload, CloudEvent data, a batch's element, an NDJSON line, a binary body or a webhook:
    within the limit it is judged like any event; past it, refused naming the path and the limit."""
    api = serve_api()
    key = api.create_key()
    seen_statuses: Counter[int] = Counter()

    def event_with(field: str, text: str, **attributes: str) -> str:
        fields = {"event_id": _fresh_id(), "type": "fuzz.deep", "source": "fuzz"} | attributes
        return json.dumps(fields)[:-1] + f', "{field}": {text}}}'

    with requests.Session() as session:

        @FUZZ
        @given(nested=nested_json(), where=st.sampled_from(
            ["payload", "array", "ndjson", "cloudevent", "batch", "binary", "webhook"]))  # fmt: skip
        def fuzz(nested: tuple[str, list[str]], where: str) -> None:
            text, kinds = nested
            time = {"occurred_at": "2026-01-01T00:00:00Z"}
            cloud = {"specversion": "1.0", "id": _fresh_id(), "time": "2026-01-01T00:00:00Z"}
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            path, level = "/v1/events", 2  # the level of the nested value's outermost container
            if where == "payload":
                body, prefix = event_with("payload", text, **time), "payload"
            elif where == "array":
                body, prefix = "[" + event_with("payload", text, **time) + "]", "[0].payload"
            elif where == "ndjson":
                body, prefix = event_with("payload", text, **time), "payload"
                headers["Content-Type"] = NDJSON
            elif where == "cloudevent":
                body, prefix = event_with("data", text, **cloud), "data"
                headers["Content-Type"] = "application/cloudevents+json"
            elif where == "batch":
                body, prefix = "[" + event_with("data", text, **cloud) + "]", "[0].data"
                headers["Content-Type"] = "application/cloudevents-batch+json"
            elif where == "binary":
                body, prefix = text, "data"
                headers |= {f"ce-{k}": v for k, v in cloud.items()} | {
                    "ce-source": "fuzz",
                    "ce-type": "fuzz.deep",
                }
            else:  # a foreign payload, or an array of them: the array is not counted
                batch = bool(kinds) and kinds[0] == "["
                body, prefix, level = text, "[0]" if batch else "", 1
                kinds = kinds[1:] if batch else kinds
                path = "/v1/webhooks/generic_webhook"
            answer = session.post(f"{api.url}{path}", data=body.encode(), headers=headers, timeout=60)
            seen_statuses[answer.status_code] += 1
            assert answer.status_code < 500, answer.text[:500]
            result = answer.json()
            assert isinstance(result, dict) and len(answer.content) < 10_000
            over = level - 1 + len(kinds) > DEPTH_LIMIT
            if not over:
                assert answer.status_code in ((200, 422) if where == "webhook" else (200,)), answer.text[:500]
                return
            expected_path = _path_into(kinds[: DEPTH_LIMIT + 1 - level], prefix)
            if where == "ndjson":  # a line fails alone
                assert answer.status_code == 422, answer.text[:500]
                [error] = result["results"][0]["errors"]
                assert (error["rule"], error["path"]) == ("depth", expected_path)
            else:
                assert answer.status_code == 400, answer.text[:500]
                assert (result["rule"], result["limit_depth"]) == ("depth", DEPTH_LIMIT)
                assert result["path"] == expected_path

        fuzz()

    assert {400, 200} <= set(seen_statuses), seen_statuses  # the generator reached both sides of the limit
    assert api.request("GET", "/health").status_code == 200
