"""The documents of ``/v1/tokens``: a token as listed, as created, and the body that creates one."""

from __future__ import annotations

import pydantic
from typing_extensions import TypedDict

from inferq.protocol.limits import MAX_TOKEN_NAME
from inferq.protocol.schema import documented


class NewToken(pydantic.BaseModel):
    """The body of ``POST /v1/tokens``; strict, so ``"admin": "yes"`` is refused, not read as true."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    name: str = pydantic.Field(min_length=1, max_length=MAX_TOKEN_NAME)
    admin: bool = False


@documented
class TokenBase(TypedDict):
    id: str
    name: str
    admin: bool
    """Admin tokens manage tokens, read /metrics and see every tenant's requests."""
    created_at: str


@documented
class Token(TokenBase):
    """A token as listed: never the token itself nor its hash."""

    revoked_at: str | None


@documented
class CreatedToken(TokenBase):
    """A new token: the only answer that shows it."""

    token: str


@documented
class TokenList(TypedDict):
    """Every token, revoked ones included."""

    results: list[Token]
