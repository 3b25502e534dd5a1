"""Bearer tokens → the tenant a request acts for. Knows nothing of responses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser

from inferq.backends import BackendUnavailable

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from inferq.backends import Backend
    from inferq.tokens import TokenInfo

#: Paths anyone may call: liveness probes carry no token; ``/ui`` only redirects to ``/ui/``.
PUBLIC_PATHS = frozenset({"/healthz", "/ui"})

#: Path prefixes anyone may load: the dashboard's page and assets carry no data.
PUBLIC_PREFIXES = ("/ui/",)


class Tenant(BaseUser):
    """The token a request was made with; its id scopes every request it can see."""

    def __init__(self, token: TokenInfo) -> None:
        self.token = token

    @property
    def id(self) -> str:
        return self.token.id

    @property
    def is_admin(self) -> bool:
        """Admin tokens manage tokens, read /metrics and see every tenant's requests."""
        return self.token.admin

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.token.name


class StoreUnavailable(AuthenticationError):
    """The token could not be checked because the store is down: 503, not 401."""


class TokenAuth(AuthenticationBackend):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        path = conn.scope["path"]  # not ``conn.url``: parsing a URL per call costs a submit 2 %
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("missing token: send 'Authorization: Bearer <token>'")
        try:
            info = await self.backend.authenticate(token.strip())
        except BackendUnavailable as exc:
            raise StoreUnavailable(str(exc)) from exc
        if info is None:
            raise AuthenticationError("invalid or revoked token")
        return AuthCredentials(["authenticated"]), Tenant(info)


#: How often an open stream checks that its token was not revoked meanwhile.
STREAM_TOKEN_CHECK_S = 5.0


class StreamAuth:
    """The token of a long-lived stream (events, wait), checked again every
    :data:`STREAM_TOKEN_CHECK_S`: a token revoked while its streams are open stops them
    within that time. A store that cannot be read does not close them."""

    def __init__(self, conn: HTTPConnection, backend: Backend) -> None:
        self.token = conn.headers.get("authorization", "").partition(" ")[2].strip()
        self.backend = backend
        self._checked_at = time.monotonic()  # the request was authenticated just now

    async def revoked(self, now: float) -> bool:
        """True once the token no longer authenticates; ``now`` is the loop's (monotonic) time."""
        if now - self._checked_at < STREAM_TOKEN_CHECK_S:
            return False
        self._checked_at = now
        try:
            return await self.backend.authenticate(self.token) is None
        except BackendUnavailable:
            return False
