"""The OKR routes of the HTTP API: objectives and key results with their scores, and apply."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from schemas import Access, ConfigError, Settings, parse_instant

from ..okr import OkrLog, apply_okrs, key_result_report, okr_report, plan_report, read_okrs
from ..store import Store
from ._auth import Authenticator
from ._errors import ApiError, json_response


@dataclass
class OkrApi:
    settings: Settings
    store: Store
    auth: Authenticator
    okr_log: OkrLog | None  # None: no broker to write definitions to, so apply answers 503


def okr_router(api: OkrApi) -> APIRouter:
    router = APIRouter()
    reader, admin = api.auth.depends(Access.READ), api.auth.depends(Access.ADMIN)

    async def report(objective: str | None, as_of: str | None, by: str) -> Response:
        try:
            instant = parse_instant(as_of) if as_of else None
            body = await asyncio.to_thread(okr_report, api.store, api.settings, objective, instant, by)
        except KeyError as e:
            raise ApiError(404, e.args[0], "unknown_objective") from None
        except ValueError as e:
            raise ApiError(400, str(e), "bad_query") from None
        return json_response(body)

    @router.get("/v1/objectives", tags=["okr"], dependencies=[reader], summary="Objectives with their scores")
    async def objectives(as_of: str | None = None, by: str = "landed") -> Response:
        return await report(None, as_of, by)

    @router.get(
        "/v1/objectives/{objective_id}", tags=["okr"], dependencies=[reader], summary="One objective's scores"
    )
    async def objective(objective_id: str, as_of: str | None = None, by: str = "landed") -> Response:
        return await report(objective_id, as_of, by)

    @router.get(
        "/v1/key-results/{kr_id}",
        tags=["okr"],
        dependencies=[reader],
        summary="A key result's score with its history",
    )
    async def key_result(kr_id: str) -> Response:
        try:
            body = await asyncio.to_thread(key_result_report, api.store, api.settings, kr_id)
        except KeyError as e:
            raise ApiError(404, e.args[0], "unknown_key_result") from None
        return json_response(body)

    @router.post(
        "/v1/objectives/apply",
        tags=["admin"],
        dependencies=[admin],
        summary="Apply objectives (YAML); with prune, remove the objectives in force that it omits",
    )
    async def apply(request: Request, dry_run: bool = False, prune: bool = False) -> Response:
        text = (await request.body()).decode("utf-8", errors="replace")
        if api.okr_log is None and not dry_run:
            raise ApiError(503, "no broker to record definitions on", "unavailable")
        applied_by = request.headers.get("X-Applied-By", "api")
        try:
            catalog = await asyncio.to_thread(read_okrs, text, api.store, api.settings.clickhouse_database)
            plan = await asyncio.to_thread(
                apply_okrs, api.store, api.settings, api.okr_log, catalog, applied_by, dry_run, None, prune
            )
        except ConfigError as e:
            errors = [dataclasses.asdict(error) for error in e.errors]
            return json_response({"error": "invalid OKR definitions", "errors": errors}, 422)
        return json_response(plan_report(plan, catalog, dry_run, prune))

    return router
