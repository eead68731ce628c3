"""The store's facade: opening ClickHouse (a server or embedded chDB) and the API keys kept there."""

from ._api_keys import ApiKeyStore
from ._store import open_store

__all__ = [
    "ApiKeyStore",
    "open_store",
]
