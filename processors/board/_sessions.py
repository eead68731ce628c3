"""Board sessions: an HttpOnly cookie that stands for the API key entered once at login.

The cookie reads `<key id>.<expires, unix seconds>.<signature>`: HMAC-SHA256 of the id and the
expiry, under a secret derived from the key's stored hash. Every API process reads the same key
ring, so any of them can check a session without a session store; the key itself never sits in
the browser. A key revoked ends its sessions (in another API process as its ring refreshes,
within 5 s); a key the ring does not know yet makes it reread the store (see KeyRingCache).
Whoever could forge a session already reads the store's keys table, and a session opens only
the board, which only reads: it adds no access to anyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable

from schemas import ApiKey, KeyRing

SESSION_COOKIE = "okrstream_board"
SESSION_SECONDS = 8 * 3600  # a working day; the key is asked for again after it
_PURPOSE = b"okrstream board session v1"
_EXPIRY = re.compile(r"[0-9]{1,12}")  # unix seconds, ASCII digits only


def _signature(key: ApiKey, message: str) -> str:
    secret = hmac.new(bytes.fromhex(key.secret_hash), _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class BoardSessions:
    """Issues and checks session cookies against the key ring in force."""

    def __init__(
        self,
        ring: Callable[[], KeyRing],
        lifetime_s: int = SESSION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ring = ring
        self.lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, key: ApiKey) -> str:
        """A cookie value for `key`, valid for `lifetime_s` from now."""
        message = f"{key.key_id}.{int(self._clock()) + self.lifetime_s}"
        return f"{message}.{_signature(key, message)}"

    def key_id(self, cookie: str | None) -> str | None:
        """The key id a well-formed, unexpired cookie names (its signature not yet checked): an
        expired one is not worth a reread of the store to learn its key."""
        parts = self._unexpired(cookie)
        return parts[0] if parts else None

    def key(self, cookie: str | None) -> ApiKey | None:
        """The active key a well-formed, unexpired and correctly signed cookie stands for, else None."""
        if (parts := self._unexpired(cookie)) is None:
            return None
        key_id, expires, signature = parts
        key = self._ring().active(key_id)
        if key is None:
            return None
        expected = _signature(key, f"{key_id}.{expires}")
        return key if hmac.compare_digest(expected, signature) else None

    def _unexpired(self, cookie: str | None) -> tuple[str, str, str] | None:
        """(key id, expiry, signature) of a well-formed cookie whose expiry is still ahead."""
        if not cookie or cookie.count(".") != 2:
            return None
        key_id, expires, signature = cookie.split(".")
        if not (_EXPIRY.fullmatch(expires) and signature.isascii()):  # else int() and compare_digest raise
            return None
        return (key_id, expires, signature) if int(expires) > self._clock() else None
