"""`POST /v1/events` and `POST /v1/webhooks/{mapping}`: the HTTP face of `EventIngest`.

Checks run cheapest first, and all before anything is written: the key (401/403), the content
type (415), the body's size (413), shape and nesting (400), the number of events (413), the
sources and types the events claim against the key's scope (403), the key's rate (429, or 413
when the request could never fit it). A 2xx then means every accepted event is in the log; a
broker that does not acknowledge in time gives 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from ingest import LogUnavailable
from schemas import (
    Access,
    ApiKey,
    EventTypeRegistry,
    MappingCatalog,
    RawEvent,
    Settings,
    cloudevent_from_headers,
    echo_repr,
    map_event,
    validate_cloudevent,
    validate_event,
)

from ._auth import Authenticator
from ._bodies import BodyError, BodyFormat, BodyItem, BodyLimits, body_format, decode_content, split_body
from ._direct_route import DirectRoute
from ._errors import ApiError, ErrorBody, json_response
from ._ingest import Claim, Convert, EventIngest, check_scope
from ._rate_limit import RateLimiter

RETRY_AFTER_S = 5  # what a client is asked to wait when the log is unavailable


class ErrorOut(BaseModel):
    path: str
    message: str
    rule: str


class EventResultOut(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None = None
    source: str | None = None
    errors: list[ErrorOut] = []
    errors_not_listed: int = 0  # errors beyond the first few listed


class IngestResponse(BaseModel):
    """Counts and, in request order, what became of each event.

    `accepted`: in the log, durable, counted once (a copy of an event that landed earlier is
    accepted too and dropped by the sink; `POST /v1/events/landed` tells which landed).
    `duplicate`: this process accepted it lately, or it came earlier in this request; not written.
    """

    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResultOut]


@dataclass
class IngestApi:
    """What the ingest routes need; the process that serves them builds it."""

    settings: Settings
    registry: EventTypeRegistry
    mappings: MappingCatalog
    ingest: EventIngest
    auth: Authenticator
    limiter: RateLimiter


def ingest_router(api: IngestApi) -> APIRouter:
    router = APIRouter(tags=["ingest"])
    writer = api.auth.depends(Access.WRITE)

    async def post_events(request: Request) -> Response:  # a DirectRoute: the hot path
        key = await api.auth.key_of(request, Access.WRITE)
        fmt = _format(request)
        items = await _items(api, request, fmt)
        claim: Claim = _claimed_source_and_type
        if fmt is BodyFormat.CLOUDEVENT_BINARY:
            headers = dict(request.headers)
            attributes = cloudevent_from_headers(headers, None)
            claim = lambda _: _claimed_source_and_type(attributes)  # noqa: E731
            convert: Convert = lambda data, now: validate_cloudevent(  # noqa: E731
                cloudevent_from_headers(headers, data), api.registry, received_at=now
            )
        elif fmt in (BodyFormat.CLOUDEVENT, BodyFormat.CLOUDEVENT_BATCH):
            convert = lambda data, now: validate_cloudevent(data, api.registry, received_at=now)  # noqa: E731
        else:
            convert = lambda data, now: validate_event(data, api.registry, received_at=now)  # noqa: E731
        return await _ingest(api, request, items, claim, convert, key, "http:/v1/events")

    router.add_api_route(
        "/v1/events",
        post_events,
        methods=["POST"],
        route_class_override=DirectRoute,
        summary="Send events: JSON, NDJSON or CloudEvents (structured, batch, binary), optionally gzip",
        response_model=IngestResponse,
        responses=_RESPONSES,
        openapi_extra={"requestBody": {"required": True, "content": _event_bodies()}}
        | Authenticator.documented(),
    )

    @router.post(
        "/v1/webhooks/{mapping}",
        summary="Send a foreign payload (JSON object, array or NDJSON), turned into events by a mapping",
        response_model=IngestResponse,
        responses=_RESPONSES | {404: {"model": ErrorBody, "description": "no mapping of that name"}},
        openapi_extra={"requestBody": {"required": True, "content": _foreign_bodies()}},
    )
    async def post_webhook(mapping: str, request: Request, key: ApiKey | None = writer) -> Response:
        chosen = api.mappings.mappings.get(mapping)
        if chosen is None:
            known = ", ".join(sorted(api.mappings.mappings)) or "none"
            raise ApiError(
                404,
                f"no mapping named {echo_repr(mapping)}; known: {known}",
                "unknown_mapping",
                path="mapping",
            )
        fmt = _format(request)
        if fmt not in (BodyFormat.EVENTS, BodyFormat.NDJSON):
            raise ApiError(415, "a webhook takes application/json or application/x-ndjson", "content_type")
        items = await _items(api, request, fmt)
        convert: Convert = lambda data, now: map_event(chosen, data, api.registry, received_at=now)  # noqa: E731
        return await _ingest(
            api, request, items, chosen.claimed_scope, convert, key, f"http:/v1/webhooks/{mapping}"
        )

    return router


def _claimed_source_and_type(data: Any) -> tuple[Any, Any]:
    """What a canonical event or a CloudEvent says its source and type are, unvalidated."""
    return (data.get("source"), data.get("type")) if isinstance(data, dict) else (None, None)


def _format(request: Request) -> BodyFormat:
    try:
        return body_format(request.headers.get("content-type"), request.headers)
    except BodyError as e:
        raise ApiError(e.status, e.message, e.rule, extra=e.extra) from None


async def _items(api: IngestApi, request: Request, fmt: BodyFormat) -> list[BodyItem]:
    limit = api.settings.http_max_body_bytes
    body = await _read_body(request, limit, api.settings.http_request_timeout_s)
    limits = BodyLimits(api.settings.http_max_json_depth, api.settings.http_max_event_bytes)
    try:
        items = split_body(decode_content(body, request.headers.get("content-encoding"), limit), fmt, limits)
    except BodyError as e:
        extra = {"limit_bytes": limit} if e.status == 413 else e.extra
        raise ApiError(e.status, e.message, e.rule, extra=extra) from None
    if not items:
        raise ApiError(400, "the body holds no events", "empty")
    if len(items) > api.settings.http_max_events:
        raise ApiError(
            413,
            f"{len(items)} events in one request; at most {api.settings.http_max_events} allowed",
            "too_many_events",
            extra={"limit_events": api.settings.http_max_events},
        )
    return items


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413,
            f"the body is {declared} bytes; at most {limit} allowed",
            "body_size",
            extra={"limit_bytes": limit},
        )
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        413, f"the body is over {limit} bytes", "body_size", extra={"limit_bytes": limit}
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the body did not arrive within {timeout_s:g} s", "timeout") from None
    return b"".join(chunks)


async def _ingest(
    api: IngestApi,
    request: Request,
    items: list[BodyItem],
    claim: Claim,
    convert: Convert,
    key: ApiKey | None,
    origin: str,
) -> Response:
    check_scope(key, [(item.index, *claim(item.data)) for item in items])
    who = key.key_id if key else "anonymous"
    _charge(api.limiter, who, len(items))
    context = {"content_type": request.headers.get("content-type", ""), "api_key": who}
    try:
        result = await api.ingest.ingest(items, convert, key, origin, context)
    except LogUnavailable as e:
        raise ApiError(
            503,
            f"{e}; nothing of this request was acknowledged, retry it",
            "log_unavailable",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    return json_response(result.to_json(), result.status_code)


def _charge(limiter: RateLimiter, who: str, events: int) -> None:
    """Count every event of the request against the key's rate, or refuse the request whole.

    A request larger than the whole allowance can never pass, so it gets 413 (split it), not a
    429 whose Retry-After would have the client resend it forever.
    """
    limit = {"limit_events": limiter.amount, "rate_limit": limiter.rate}
    if events > limiter.amount:
        raise ApiError(
            413,
            f"{events} events in one request, but this API key may send at most {limiter.rate} events:"
            f" split the request into parts of at most {limiter.amount} events",
            "over_rate_limit",
            extra=limit,
        )
    wait = limiter.take(who, events)
    if wait is not None:
        raise ApiError(
            429,
            f"rate limit of {limiter.rate} events per key reached; {events} more do not fit now,"
            f" retry after {wait:g} s",
            "rate_limited",
            headers={"Retry-After": f"{wait:g}"},
            extra=limit,
        )


_ERROR = {"model": ErrorBody}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "every event accepted or a duplicate: accepted ones are in the log"},
    207: {
        "model": IngestResponse,
        "description": "some events rejected (see results), the others in the log",
    },
    400: _ERROR
    | {"description": "the body cannot be read: malformed JSON, gzip or UTF-8, or JSON nested too deep"},
    401: _ERROR | {"description": "no API key, or an invalid or revoked one"},
    403: _ERROR | {"description": "the key may not write these events (nothing was written)"},
    408: _ERROR | {"description": "the body did not arrive in time"},
    413: _ERROR
    | {
        "description": "the body, the number of events, or the number of events for the key's rate"
        " limit is over the limit named in the body: split the request"
    },
    415: _ERROR | {"description": "unsupported Content-Type, charset or Content-Encoding"},
    422: {"model": IngestResponse, "description": "every event rejected (see results)"},
    429: _ERROR | {"description": "the key's rate limit is reached: see Retry-After"},
    503: _ERROR | {"description": "the event log did not acknowledge: nothing was accepted, see Retry-After"},
}


def _event_schema() -> dict[str, Any]:
    schema = RawEvent.model_json_schema()
    schema["properties"].pop("received_at", None)
    return schema


_CLOUDEVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "CloudEvent",
    "description": "CloudEvents 1.0, JSON format; `time` is required by okrstream",
    "required": ["specversion", "id", "source", "type", "time"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string"},
        "source": {"type": "string", "format": "uri-reference"},
        "type": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": ["string", "null"]},
        "datacontenttype": {"type": "string"},
        "data": {"description": "a JSON object is split into dimensions and measures; other data is kept"},
        "data_base64": {"type": "string", "description": "kept in the payload as it came"},
    },
    "additionalProperties": True,
}


def _event_bodies() -> dict[str, Any]:
    event = _event_schema()
    return {
        "application/json": {"schema": {"oneOf": [event, {"type": "array", "items": event}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON event per line"}},
        "application/cloudevents+json": {"schema": _CLOUDEVENT_SCHEMA},
        "application/cloudevents-batch+json": {"schema": {"type": "array", "items": _CLOUDEVENT_SCHEMA}},
    }


def _foreign_bodies() -> dict[str, Any]:
    return {
        "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {}}]}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON payload per line"}},
    }
