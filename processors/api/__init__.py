"""All of the HTTP API: ingest (bodies, scope, rate limits, the ingest decision), queries, admin
and OKR routes, and the server that joins them.

Each name is imported from its module on first use: a command that reads the store's answers
(`okrstream ingest`, `status`) does not load FastAPI.
"""

from __future__ import annotations

import typing

from .. import _lazy

if typing.TYPE_CHECKING:
    from ._answers import event_counts, landed_events
    from ._auth import Authenticator
    from ._bodies import BodyError, BodyFormat, BodyItem, BodyLimits, body_format, decode_content, split_body
    from ._direct_route import DirectRoute
    from ._errors import ApiError, ErrorBody, install_error_handler, json_response
    from ._http_server import (
        HTTP_FD_ENV,
        ApiServer,
        HttpApi,
        HttpService,
        KeyRingCache,
        bind,
        http_api,
        local_admin_key,
        server_config,
        url_of,
    )
    from ._ingest import EventIngest, EventResult, IngestResult, Outcome
    from ._ingest_routes import IngestApi, ingest_router
    from ._rate_limit import RateLimiter

__all__ = [
    "HTTP_FD_ENV",
    "ApiError",
    "ApiServer",
    "Authenticator",
    "BodyError",
    "BodyFormat",
    "BodyItem",
    "BodyLimits",
    "DirectRoute",
    "ErrorBody",
    "EventIngest",
    "EventResult",
    "HttpApi",
    "HttpService",
    "IngestApi",
    "IngestResult",
    "KeyRingCache",
    "Outcome",
    "RateLimiter",
    "bind",
    "body_format",
    "decode_content",
    "event_counts",
    "http_api",
    "ingest_router",
    "install_error_handler",
    "json_response",
    "landed_events",
    "local_admin_key",
    "server_config",
    "split_body",
    "url_of",
]

_HOMES = {
    "ApiError": "._errors",
    "ApiServer": "._http_server",
    "Authenticator": "._auth",
    "BodyError": "._bodies",
    "BodyFormat": "._bodies",
    "BodyItem": "._bodies",
    "BodyLimits": "._bodies",
    "DirectRoute": "._direct_route",
    "ErrorBody": "._errors",
    "EventIngest": "._ingest",
    "EventResult": "._ingest",
    "HTTP_FD_ENV": "._http_server",
    "HttpApi": "._http_server",
    "HttpService": "._http_server",
    "IngestApi": "._ingest_routes",
    "IngestResult": "._ingest",
    "KeyRingCache": "._http_server",
    "Outcome": "._ingest",
    "RateLimiter": "._rate_limit",
    "bind": "._http_server",
    "body_format": "._bodies",
    "decode_content": "._bodies",
    "event_counts": "._answers",
    "http_api": "._http_server",
    "ingest_router": "._ingest_routes",
    "install_error_handler": "._errors",
    "json_response": "._errors",
    "landed_events": "._answers",
    "local_admin_key": "._http_server",
    "server_config": "._http_server",
    "split_body": "._bodies",
    "url_of": "._http_server",
}

__getattr__ = _lazy.lazy_names(__name__, __all__, _HOMES)
