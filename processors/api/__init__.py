"""The HTTP API's query, admin and OKR routes, and the server that joins them with ingest's routes."""

from ._http_server import HTTP_FD_ENV, HttpService, bind, http_api, server_config, url_of
from ._okr_api import parse_instant
from ._queries import event_counts

__all__ = [
    "HTTP_FD_ENV",
    "HttpService",
    "bind",
    "event_counts",
    "http_api",
    "parse_instant",
    "server_config",
    "url_of",
]
