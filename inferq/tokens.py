"""API tokens: minted with 256 bits of entropy, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

PREFIX = "iq_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as stored: never the token itself. ``id`` is also the tenant it acts for."""

    id: str
    name: str
    created_at: float
    revoked_at: float | None = None
    admin: bool = False


def new_token() -> tuple[str, str]:
    """A fresh ``(token_id, token)``; the token embeds its id so lookups need no scan."""
    token_id = "tok_" + secrets.token_hex(6)
    return token_id, f"{PREFIX}{token_id[4:]}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """SHA-256 of the token: enough for a 256-bit random secret, and fast per request."""
    return hashlib.sha256(token.encode()).hexdigest()
