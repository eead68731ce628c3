"""The query and admin routes of the HTTP API: health, readiness, counts, KPIs and API keys.

In embedded mode the running process owns the chDB store, so other commands (`okrstream
status`, `kpi`, `keys`) read and change it through here, with the admin token of `run.json`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from schemas import Access, ConfigError, EventTypeRegistry, Grain, Settings, api_key_json

from ..kpi import apply_kpis, kpi_listing, kpi_report, plan_report, read_catalog, series_window
from ..okr import kpi_readers
from ..sink import SinkStats
from ..store import ApiKeyStore, Store
from ._answers import event_counts, landed_events
from ._auth import Authenticator
from ._errors import ApiError, json_response


class EventIdentity(BaseModel):
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class LandedQuery(BaseModel):
    """The identities to look up; at most OKRSTREAM_HTTP_MAX_EVENTS in one request."""

    events: list[EventIdentity]


class NewKey(BaseModel):
    name: str
    access: Access
    sources: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)


@dataclass
class QueryApi:
    """What the query routes need; `stats` and `assigned` are None where no sink runs (`okrstream serve`)."""

    settings: Settings
    store: Store
    registry: EventTypeRegistry
    auth: Authenticator
    keys: ApiKeyStore
    keys_changed: Callable[[], None]  # refresh the key ring after a create or revoke
    stats: SinkStats | None = None
    assigned: Callable[[], bool] | None = None
    broker_up: Callable[[], bool] | None = None  # None where nothing watches the broker


def query_router(api: QueryApi) -> APIRouter:
    router = APIRouter()
    reader, admin = api.auth.depends(Access.READ), api.auth.depends(Access.ADMIN)
    database = api.settings.clickhouse_database

    @router.get("/health", tags=["service"], summary="The process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready", tags=["service"], summary="The broker and the store answer, and the sink has its partitions"
    )
    async def ready() -> Response:
        problems = []
        if api.broker_up is not None and not api.broker_up():
            problems.append("the Kafka broker cannot be reached")
        if api.assigned is not None and not api.assigned():
            problems.append("the sink has no partitions assigned yet")
        try:
            await asyncio.to_thread(api.store.ping)
        except Exception as e:
            problems.append(f"ClickHouse does not answer: {e}")
        return json_response({"ready": not problems, "problems": problems}, 503 if problems else 200)

    @router.get("/v1/counts", tags=["query"], dependencies=[reader], summary="Landed events per type")
    async def counts() -> Response:
        body = await asyncio.to_thread(event_counts, api.store, database)
        if api.stats is not None:
            body["sink"] = dataclasses.asdict(api.stats)
        return json_response(body)

    @router.post(
        "/v1/events/landed",
        tags=["query"],
        dependencies=[reader],
        summary="Which of these events (source, event_id) the store holds: the sink drops copies of them",
    )
    async def landed(query: LandedQuery) -> Response:
        limit = api.settings.http_max_events
        if len(query.events) > limit:
            raise ApiError(
                413,
                f"{len(query.events)} events in one request; at most {limit} allowed",
                "too_many_events",
                path="events",
                extra={"limit_events": limit},
            )
        identities = {(e.source, e.event_id) for e in query.events}
        return json_response(await asyncio.to_thread(landed_events, api.store, api.settings, identities))

    @router.get("/v1/kpis", tags=["query"], dependencies=[reader], summary="The KPIs in force")
    async def kpis() -> Response:
        return json_response({"kpis": await asyncio.to_thread(kpi_listing, api.store, database)})

    @router.get("/v1/kpis/{name}", tags=["query"], dependencies=[reader], summary="A KPI per period")
    async def kpi(
        name: str,
        grain: str = "day",
        by: str = "",
        tz: str | None = None,
        start: str | None = Query(None, alias="from"),
        end: str | None = Query(None, alias="to"),
    ) -> Response:
        try:
            timezone = tz or api.settings.timezone
            ZoneInfo(timezone)
            if grain not in Grain.__members__.values():
                raise ValueError(f"grain: must be one of {', '.join(Grain)}, got {grain!r}")
            window = series_window(start, end, timezone)
            dimensions = tuple(key for key in by.split(",") if key)
            report = await asyncio.to_thread(
                kpi_report, api.store, database, name, *window, Grain(grain), timezone, dimensions
            )
        except KeyError as e:
            raise ApiError(404, e.args[0], "unknown_kpi") from None
        except (ValueError, ZoneInfoNotFoundError) as e:
            raise ApiError(400, str(e), "bad_query") from None
        return json_response(report)

    @router.post(
        "/v1/kpis/apply",
        tags=["admin"],
        dependencies=[admin],
        summary="Apply a KPI catalog (YAML); with prune, remove the KPIs in force that it omits",
    )
    async def apply(request: Request, dry_run: bool = False, prune: bool = False) -> Response:
        text = (await request.body()).decode("utf-8", errors="replace")
        applied_by = request.headers.get("X-Applied-By", "api")
        try:
            catalog = read_catalog(text, api.registry)
            read_by = await asyncio.to_thread(kpi_readers, api.store, api.settings) if prune else None
            plan = await asyncio.to_thread(
                apply_kpis, api.store, api.settings, catalog, applied_by, dry_run, _quiet, prune, read_by
            )
        except ConfigError as e:
            errors = [dataclasses.asdict(error) for error in e.errors]
            return json_response({"error": "invalid KPI definitions", "errors": errors}, 422)
        return json_response(plan_report(plan) | {"dry_run": dry_run, "prune": prune})

    @router.post(
        "/v1/keys", tags=["admin"], dependencies=[admin], status_code=201, summary="Create an API key"
    )
    async def create_key(new: NewKey) -> Response:
        try:
            token, key = await asyncio.to_thread(
                api.keys.create, new.name, new.access, new.sources, new.types
            )
        except ConfigError as e:
            errors = [dataclasses.asdict(error) for error in e.errors]
            return json_response({"error": "invalid API key", "errors": errors}, 422)
        await asyncio.to_thread(api.keys_changed)  # a store read: off the event loop
        return json_response({"token": token, "key": api_key_json(key)}, 201)

    @router.get(
        "/v1/keys", tags=["admin"], dependencies=[admin], summary="The API keys (never their secrets)"
    )
    async def list_keys() -> Response:
        keys = await asyncio.to_thread(api.keys.list)
        return json_response({"keys": [api_key_json(key) for key in keys]})

    @router.post(
        "/v1/keys/{key_id}/revoke", tags=["admin"], dependencies=[admin], summary="Revoke an API key"
    )
    async def revoke_key(key_id: str) -> Response:
        try:
            key = await asyncio.to_thread(api.keys.revoke, key_id)
        except KeyError as e:
            raise ApiError(404, e.args[0], "unknown_key") from None
        await asyncio.to_thread(api.keys_changed)  # a store read: off the event loop
        return json_response({"key": api_key_json(key)})

    return router


def _quiet(kpi: str, done: int, total: int) -> None:
    """Backfill progress is not reported over HTTP: the answer comes when the apply is done."""
