"""Response ids: unguessable, and verifiable without storage.

An id is 128 random bits followed by a MAC of those bits and the owning tenant under a
secret kept by the backend. A valid id that the store no longer holds was issued to
this tenant and has since been deleted, so the gateway can say "expired" without
keeping anything about the request; another tenant's id fails the MAC and reads as a
plain 404.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_RANDOM_BYTES = 16
_MAC_BYTES = 10


def _mac(secret: bytes, tenant: str, nonce: bytes) -> bytes:
    return hmac.new(secret, tenant.encode() + b"\0" + nonce, hashlib.sha256).digest()[:_MAC_BYTES]


def new_response_id(secret: bytes, tenant: str) -> str:
    nonce = secrets.token_bytes(_RANDOM_BYTES)
    return _encode(nonce + _mac(secret, tenant, nonce))


def _encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def issued_to(secret: bytes, tenant: str, response_id: str) -> bool:
    """True when ``response_id`` was minted by this deployment for ``tenant``."""
    try:
        raw = base64.b32decode(response_id.upper() + "=" * (-len(response_id) % 8))
    except (ValueError, TypeError):
        return False
    if len(raw) != _RANDOM_BYTES + _MAC_BYTES or _encode(raw) != response_id:
        return False  # only the one spelling we mint: an alias of a live id is not "expired"
    nonce, mac = raw[:_RANDOM_BYTES], raw[_RANDOM_BYTES:]
    return hmac.compare_digest(mac, _mac(secret, tenant, nonce))
