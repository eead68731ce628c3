"""All of the HTTP API: ingest (bodies, scope, rate limits, the ingest decision), queries, admin
and OKR routes, and the server that joins them."""

from ._auth import Authenticator
from ._bodies import BodyError, BodyFormat, BodyItem, BodyLimits, body_format, decode_content, split_body
from ._direct_route import DirectRoute
from ._errors import ApiError, ErrorBody, install_error_handler, json_response
from ._http_server import HTTP_FD_ENV, ApiServer, HttpApi, HttpService, bind, http_api, server_config, url_of
from ._ingest import EventIngest, EventResult, IngestResult, Outcome
from ._ingest_routes import IngestApi, ingest_router
from ._queries import event_counts, landed_events
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
    "server_config",
    "split_body",
    "url_of",
]
