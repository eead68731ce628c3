"""The store's facade: ClickHouse (a server or embedded chDB) as `Store`, the API keys kept there, and
ClickHouse's HTTP interface on the embedded store (`StoreHttp`)."""

from ._api_keys import ApiKeyStore
from ._engine import StoreError
from ._http_interface import (
    STORE_HTTP_FD_ENV,
    StoreHttp,
    StoreUser,
    authenticate,
    bind_store_http,
    store_http_url,
    store_users,
)
from ._store import Store, open_store

__all__ = [
    "STORE_HTTP_FD_ENV",
    "ApiKeyStore",
    "Store",
    "StoreError",
    "StoreHttp",
    "StoreUser",
    "authenticate",
    "bind_store_http",
    "open_store",
    "store_http_url",
    "store_users",
]
