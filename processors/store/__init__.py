"""The store's facade: ClickHouse (a server or embedded chDB) as `Store`, and the API keys kept there."""

from ._api_keys import ApiKeyStore
from ._store import Store, open_store

__all__ = [
    "ApiKeyStore",
    "Store",
    "open_store",
]
