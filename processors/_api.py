"""The small HTTP API of a running okrstream: health, readiness, counts and KPIs.

In embedded mode this process owns the chDB store, so other commands (`okrstream status`)
read the data through here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from clickhouse_connect.driver.client import Client
from mode import Service

from schemas import ConfigError, EventTypeRegistry, Grain, Settings

from ._kpis import apply_kpis, kpi_listing, kpi_report, plan_report, read_catalog, series_window
from ._raw_sink import SinkStats
from .clickhouse import EventCounts, fetch


def event_counts(client: Client, database: str) -> dict[str, Any]:
    """Landed events per type with measure sums: the body of GET /v1/counts (and `okrstream status`)."""
    types = EventCounts.parse(fetch(client, EventCounts(database)))
    return {
        "total_events": sum(t.events for t in types),
        "types": [dataclasses.asdict(t) for t in types],
    }


class HttpApi(Service):
    def __init__(
        self,
        settings: Settings,
        client: Client,
        registry: EventTypeRegistry,
        stats: SinkStats,
        assigned: Callable[[], bool],
        on_listening: Callable[[str], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._client = client
        self._registry = registry
        self._stats = stats
        self._assigned = assigned
        self._on_listening = on_listening
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def on_start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/health", self._health),
                web.get("/ready", self._ready),
                web.get("/v1/counts", self._counts),
                web.get("/v1/kpis", self._kpis),
                web.get("/v1/kpis/{name}", self._kpi),
                web.post("/v1/kpis/apply", self._apply),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.http_host, self._settings.http_port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._on_listening(self.url)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _ready(self, request: web.Request) -> web.Response:
        problems = []
        if not self._assigned():
            problems.append("the sink has no partitions assigned yet")
        try:
            await asyncio.to_thread(self._client.command, "SELECT 1")
        except Exception as e:
            problems.append(f"ClickHouse does not answer: {e}")
        status = 503 if problems else 200
        return web.json_response({"ready": not problems, "problems": problems}, status=status)

    async def _counts(self, request: web.Request) -> web.Response:
        counts = await asyncio.to_thread(event_counts, self._client, self._settings.clickhouse_database)
        return web.json_response(counts | {"sink": dataclasses.asdict(self._stats)})

    async def _kpis(self, request: web.Request) -> web.Response:
        listing = await asyncio.to_thread(kpi_listing, self._client, self._settings.clickhouse_database)
        return web.json_response({"kpis": listing})

    async def _kpi(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            timezone = query.get("tz") or self._settings.timezone
            ZoneInfo(timezone)
            grain_name = query.get("grain", "day")
            if grain_name not in Grain.__members__.values():
                raise ValueError(f"grain: must be one of {', '.join(Grain)}, got {grain_name!r}")
            grain = Grain(grain_name)
            start, end = series_window(query.get("from"), query.get("to"), timezone)
            by = tuple(key for key in query.get("by", "").split(",") if key)
            report = await asyncio.to_thread(
                kpi_report,
                self._client,
                self._settings.clickhouse_database,
                request.match_info["name"],
                start,
                end,
                grain,
                timezone,
                by,
            )
        except KeyError as e:
            return web.json_response({"error": e.args[0]}, status=404)
        except (ValueError, ZoneInfoNotFoundError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(report)

    async def _apply(self, request: web.Request) -> web.Response:
        """POST a KPI catalog as YAML; `?dry_run=1` only plans. Answers with the plan."""
        text = await request.text()
        dry_run = request.query.get("dry_run", "") in ("1", "true", "yes")
        try:
            catalog = read_catalog(text, self._registry)
        except ConfigError as e:
            errors = [dataclasses.asdict(error) for error in e.errors]
            return web.json_response({"error": "invalid KPI definitions", "errors": errors}, status=422)
        plan = await asyncio.to_thread(
            apply_kpis,
            self._client,
            self._settings,
            catalog,
            request.headers.get("X-Applied-By", "api"),
            dry_run,
            _quiet,
        )
        return web.json_response(plan_report(plan) | {"dry_run": dry_run})


def _quiet(kpi: str, done: int, total: int) -> None:
    """Backfill progress is not reported over HTTP: the answer comes when the apply is done."""
