"""`GET /metrics` in Prometheus's text format, and every request timed by its route."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ..metrics import REQUEST_SECONDS


class RequestTimer:
    """ASGI middleware: each request's latency by method, route template and status.

    The route template (`/v1/kpis/{name}`), not the path, keeps the series bounded; a request no
    route matched counts as "unmatched".
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def sent(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_SECONDS.labels(scope["method"], route, str(status[0])).observe(
                time.perf_counter() - started
            )


def install_metrics(app: FastAPI) -> None:
    """Time every request, and answer `/metrics` without a key: Prometheus scrapes it, and it holds
    counts only (no event data), as an operator expects of an internal port."""
    app.add_middleware(RequestTimer)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    """This process's metrics; or, for one of `okrstream serve --processes N`, all N processes'.

    Those processes share one port, so a scrape reaches any one of them. prometheus_client's
    multiprocess mode (its files in PROMETHEUS_MULTIPROC_DIR, set by their parent) lets each one
    answer with the counts of all, summed; per-process metrics (process_*, python_*, the
    platform's) are then left out.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry
