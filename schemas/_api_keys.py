"""API keys: scoped credentials for the HTTP API, kept only as hashes of their secrets.

A token reads `oks_<key_id>_<secret>`: the id finds the record without scanning, the secret
proves possession. The plaintext exists once, when the key is made; the store keeps its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ._errors import ConfigError, field_errors_from_pydantic
from ._event import UtcDatetime, utc_iso

TOKEN_PREFIX = "oks_"
KEY_ID_PATTERN = r"^[0-9a-f]{12}$"
# the characters of sources (URI references) and types, which include the glob ones fnmatch knows:
# * ? [ ] ! (match a literal ? or [ as [?] or [[])
GLOB_PATTERN = r"^[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$"
_TOKEN = re.compile(r"oks_([0-9a-f]{12})_([A-Za-z0-9_-]{16,128})")
NO_KEY = "an API key is required: Authorization: Bearer <key> or X-API-Key"
MALFORMED_KEY = "malformed API key: okrstream keys look like oks_<12 hex digits>_<secret>"
INVALID_KEY = "invalid or revoked API key"  # one answer, so a caller learns nothing about other keys

Glob = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=GLOB_PATTERN)]


class Access(StrEnum):
    """What a key may do; a key has exactly one."""

    WRITE = "write"  # ingest only, within its sources and types
    READ = "read"  # the query endpoints only
    ADMIN = "admin"  # everything, including managing keys and applying KPIs


class Unauthenticated(Exception):
    """No usable API key came with a request; `reason` says which way, for diagnostics (the HTTP
    API answers every case alike)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(BaseModel):
    """One key's record: its scope and the hash of its secret, never the secret itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    access: Access
    sources: tuple[Glob, ...] = ()
    types: tuple[Glob, ...] = ()
    secret_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(repr=False)
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None

    @field_validator("sources", "types")
    @classmethod
    def _scope_fits_access(cls, patterns: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """A write key without a scope could write nothing; a scope on a read or admin key means nothing."""
        access = info.data.get("access")  # absent when access itself is invalid
        if access is Access.WRITE and not patterns:
            raise PydanticCustomError(
                "scope_required", "a write key needs at least one pattern, e.g. shop, order.* or *"
            )
        if access in (Access.READ, Access.ADMIN) and patterns:
            raise PydanticCustomError(
                "scope_not_allowed",
                "must be empty for a {access} key: only write keys are scoped",
                {"access": access.value},
            )
        return tuple(dict.fromkeys(patterns))

    def matches(self, secret: str) -> bool:
        """Whether `secret` is this key's, compared in constant time.

        A fast hash is right here, unlike for passwords: the secret is 256 random bits, so there
        is no dictionary to try and a slow hash would only slow every request down.
        """
        return hmac.compare_digest(_digest(secret), self.secret_hash)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_admin(self) -> bool:
        """An active admin key (a revoked key may do nothing)."""
        return self.active and self.access is Access.ADMIN

    def may_write(self, source: str, type: str) -> bool:
        """Whether this key may ingest an event of `type` from `source`: both must match its scope."""
        if not self.active or self.access is Access.READ:
            return False
        if self.access is Access.ADMIN:
            return True
        return any(fnmatchcase(source, p) for p in self.sources) and any(
            fnmatchcase(type, p) for p in self.types
        )

    def refuses(self, source: Any, type: Any) -> bool:
        """Whether an event claiming this source and type is outside this key's scope.

        Claims are judged before the rest of the event is validated, so an invalid event out of
        scope is refused like a valid one; a claim that is not a string is left to validation.
        """
        if not self.active or self.access is Access.READ:
            return True
        if self.access is Access.ADMIN:
            return False
        source_out = isinstance(source, str) and not any(fnmatchcase(source, p) for p in self.sources)
        type_out = isinstance(type, str) and not any(fnmatchcase(type, p) for p in self.types)
        return source_out or type_out

    def may_read(self) -> bool:
        """Whether this key may use the query endpoints: read and admin keys may."""
        return self.active and self.access in (Access.READ, Access.ADMIN)

    def revoked(self, at: datetime) -> ApiKey:
        """This key revoked at `at`; a key revoked before keeps its first revocation time."""
        if not self.active:
            return self
        return ApiKey.model_validate({**self.model_dump(), "revoked_at": at})


def new_api_key(
    name: str,
    access: Access | str,
    sources: Iterable[str],
    types: Iterable[str],
    *,
    now: datetime,
    token: str | None = None,
) -> tuple[str, ApiKey]:
    """A fresh key: (the plaintext token, to show once; the record, holding only its hash).

    `token`, when given, is the key's instead of a new one: the processes of one service that
    all accept the admin key their parent made. Raises ConfigError naming each bad field (name,
    access, sources, types), and ValueError for a token that is not one.
    """
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    if token is not None:
        parsed = parse_token(token)
        if parsed is None:
            raise ValueError("not an okrstream API token")
        key_id, secret = parsed
    fields: dict[str, Any] = {
        "key_id": key_id,
        "name": name,
        "access": access,
        "sources": sources if isinstance(sources, str) else tuple(sources),  # a str is refused, not split
        "types": types if isinstance(types, str) else tuple(types),
        "secret_hash": _digest(secret),
        "created_at": now,
    }
    try:
        key = ApiKey.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(field_errors_from_pydantic(exc)) from None
    return f"{TOKEN_PREFIX}{key_id}_{secret}", key


def parse_token(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed token, else None."""
    match = _TOKEN.fullmatch(token.strip())
    return (match[1], match[2]) if match else None


def token_key_id(token: str | None) -> str | None:
    """The key id a well-formed token names, else None: which key a caller claims to hold."""
    parsed = parse_token(token) if token else None
    return parsed[0] if parsed else None


def api_key_json(key: ApiKey) -> dict[str, Any]:
    """A key as the HTTP API and `okrstream keys list` show it: never its secret or hash."""
    return {
        "id": key.key_id,
        "name": key.name,
        "access": key.access.value,
        "sources": list(key.sources),
        "types": list(key.types),
        "created_at": utc_iso(key.created_at),
        "revoked_at": None if key.revoked_at is None else utc_iso(key.revoked_at),
    }


class KeyRing:
    """The keys a process knows, to authenticate requests against."""

    _DECOY = ApiKey(  # compared against for an unknown id, so a miss costs what a wrong secret does
        key_id="0" * 12,
        name="decoy",
        access=Access.READ,
        secret_hash=_digest(secrets.token_urlsafe(32)),
        created_at=datetime.fromisoformat("1970-01-01T00:00:00+00:00"),
    )

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = {key.key_id: key for key in keys}

    def knows(self, key_id: str) -> bool:
        """Whether the ring holds a key with this id, active or revoked."""
        return key_id in self._keys

    def active(self, key_id: str) -> ApiKey | None:
        """The key with this id while it is active (neither unknown nor revoked), else None."""
        key = self._keys.get(key_id)
        return key if key is not None and key.active else None

    def authenticate(self, token: str | None) -> ApiKey:
        """The active key `token` names and proves; raises Unauthenticated otherwise."""
        if not token or not token.strip():
            raise Unauthenticated(NO_KEY)
        parsed = parse_token(token)
        if parsed is None:
            raise Unauthenticated(MALFORMED_KEY)
        key_id, secret = parsed
        key = self._keys.get(key_id)
        matched = (key or self._DECOY).matches(secret)
        if key is None or not matched or not key.active:
            raise Unauthenticated(INVALID_KEY)
        return key
