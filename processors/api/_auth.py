"""Who is calling: the API key in `Authorization: Bearer` or `X-API-Key`, checked against a key ring.

The ring (hashes only) comes from a callable, so the process can refresh it from the store
without this module knowing where keys live.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from schemas import Access, ApiKey, KeyRing, Unauthenticated, token_key_id

from ._errors import ApiError

# one answer for no key, a malformed one, a wrong one and a revoked one: byte for byte the same, so
# a caller probing keys learns nothing from which it got
UNAUTHENTICATED = (
    "a valid API key is required in Authorization: Bearer <key> or X-API-Key;"
    " none came, or it is malformed, wrong or revoked"
)
_bearer = HTTPBearer(auto_error=False, description="an okrstream API key: `okrstream keys create`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key, as a header")


class Authenticator:
    """Resolves a request's key; with `ring=None` auth is off and every caller is anonymous (None).

    `learn`: asked about a key id the ring does not hold, before the answer is 401 (KeyRingCache).
    """

    def __init__(
        self,
        ring: Callable[[], KeyRing] | None,
        learn: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._ring = ring
        self._learn = learn

    @property
    def enabled(self) -> bool:
        return self._ring is not None

    async def caller(self, token: str | None) -> ApiKey | None:
        if self._ring is None:
            return None
        try:
            return self._ring().authenticate(token)
        except Unauthenticated:
            key_id = token_key_id(token)
            if key_id is not None and self._learn is not None and await self._learn(key_id):
                with contextlib.suppress(Unauthenticated):
                    return self._ring().authenticate(token)
            raise ApiError(
                401, UNAUTHENTICATED, "unauthenticated", headers={"WWW-Authenticate": "Bearer"}
            ) from None

    def requires(self, access: Access) -> Callable[..., Awaitable[ApiKey | None]]:
        """A FastAPI dependency: the caller's key, which must allow `access` (write keys: see scope)."""

        async def dependency(  # async: a sync dependency costs every request a thread hop
            bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
            header: Annotated[str | None, Security(_header)] = None,
        ) -> ApiKey | None:
            return await self._allowing(access, bearer.credentials if bearer else header)

        return dependency

    async def key_of(self, request: Request, access: Access) -> ApiKey | None:
        """What `requires(access)` resolves, for an endpoint that reads its own request (DirectRoute)."""
        bearer = await _bearer(request)
        return await self._allowing(access, bearer.credentials if bearer else await _header(request))

    async def _allowing(self, access: Access, token: str | None) -> ApiKey | None:
        key = await self.caller(token)
        if key is None or key.is_admin:
            return key
        if access is Access.READ and not key.may_read():
            raise ApiError(403, "this API key may not read: it is a write key", "forbidden")
        if access is Access.WRITE and key.access is not Access.WRITE:
            raise ApiError(403, f"this API key may not write events: it is a {key.access} key", "forbidden")
        if access is Access.ADMIN:
            raise ApiError(403, "this needs an admin API key", "forbidden")
        return key

    @staticmethod
    def documented() -> dict[str, Any]:
        """The OpenAPI security of a route that authenticates itself: the schemes `requires` documents."""
        return {"security": [{_bearer.scheme_name: []}, {_header.scheme_name: []}]}

    def depends(self, access: Access) -> Any:  # FastAPI's Depends(...), typed Any as FastAPI types it
        return Depends(self.requires(access))
