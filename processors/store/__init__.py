"""The store's facade: ClickHouse (a server or embedded chDB) as `Store`, the API keys kept there, and
ClickHouse's HTTP interface on the embedded store (`StoreHttp`).

Each name is imported from its module on first use: a command that opens the store does not load
the HTTP interface's server.
"""

from __future__ import annotations

import typing

from .. import _lazy

if typing.TYPE_CHECKING:
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

_HOMES = {
    "STORE_HTTP_FD_ENV": "._http_interface",
    "ApiKeyStore": "._api_keys",
    "Store": "._store",
    "StoreError": "._engine",
    "StoreHttp": "._http_interface",
    "StoreUser": "._http_interface",
    "authenticate": "._http_interface",
    "bind_store_http": "._http_interface",
    "open_store": "._store",
    "store_http_url": "._http_interface",
    "store_users": "._http_interface",
}

__getattr__ = _lazy.lazy_names(__name__, __all__, _HOMES)
