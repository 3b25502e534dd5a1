"""Tokens a process checked lately, trusted for a moment without asking the store again.

Every API call names its token; looking it up in the store cost each call a round trip
(on Redis, one of a submit's two). A revocation tells every process through the bus, and
each forgets all it trusts at once; so does a gap in the bus, after which a revocation may
have been missed. ``trust_s`` bounds what is left: a token revoked by a writer that told no
one (or whose notification was lost without a gap being seen) works at most that long.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferq.tokens import TokenInfo

#: Tokens kept at most; past this all are forgotten (the next call of each asks the store).
CAPACITY = 10_000


class TrustedTokens:
    """Token hash → its info and when the store confirmed it, until told tokens changed.

    Only live tokens are kept: an unknown token asks the store every time, so that one
    created a moment ago in another process works at once, and guessing fills nothing.
    """

    def __init__(self, trust_s: float) -> None:
        self.trust_s = trust_s
        self._tokens: dict[str, tuple[TokenInfo, float]] = {}
        #: Bumped by every change, so that a lookup that began before a revocation is not kept.
        self.generation = 0

    def get(self, digest: str, now: float) -> TokenInfo | None:
        """The info of a token confirmed within ``trust_s`` of ``now`` (monotonic), or None."""
        kept = self._tokens.get(digest)
        if kept is None or now - kept[1] >= self.trust_s:
            return None
        return kept[0]

    def keep(self, digest: str, info: TokenInfo, confirmed_at: float, generation: int) -> None:
        """Trust ``info``, read from the store at ``confirmed_at`` when tokens were at
        ``generation``; dropped if they changed since (the read may predate a revocation)."""
        if generation != self.generation:
            return
        if len(self._tokens) >= CAPACITY:
            self._tokens.clear()
        self._tokens[digest] = (info, confirmed_at)

    def set(self) -> None:
        """Tokens changed (or notifications were lost): trust none of them any more. Named
        so that the bus calls it as it wakes a waiter."""
        self._tokens.clear()
        self.generation += 1
