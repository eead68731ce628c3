"""A route FastAPI calls with the request alone: the ingest hot path, without per-request dependency solving.

At one event per request, FastAPI's own request handling (solving the dependency tree, then
calling the endpoint with what it solved) took about a quarter of the service's CPU, and the
service is CPU-bound there (docs/benchmarks.md, "HTTP ingest"). A `DirectRoute`'s endpoint takes
only the request and returns a Response: it authenticates (`Authenticator.key_of`) and reads its
body itself. Routing, middleware and error handlers are FastAPI's as for any route, and so is the
OpenAPI document, from the route's declaration (its security through `Authenticator.documented`).

What the route cannot see: dependencies given to `include_router(...)` (FastAPI 0.165 applies them
outside the route) would be skipped, so a router holding DirectRoutes is included without any.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class DirectRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        solved = self.dependant
        others = [
            *solved.path_params,
            *solved.query_params,
            *solved.header_params,
            *solved.cookie_params,
            *solved.body_params,
            *solved.dependencies,
        ]
        if others or solved.request_param_name is None:
            # nothing else would reach it: FastAPI resolves nothing for a DirectRoute
            raise TypeError(f"{path}: a DirectRoute's endpoint takes the request and nothing else")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint
