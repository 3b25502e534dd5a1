"""API tokens: minted and shown once, stored hashed, listed oldest first, revoked at once."""

from __future__ import annotations

import dataclasses

import pytest

from inferq.backends import Backend
from inferq.domain import clock
from tests.backends.helpers import POLICY, Opener, eventually
from tests.backends.stores import Store
from tests.store import stored_bytes

pytestmark = pytest.mark.anyio

#: A gateway that trusts a token it checked for an hour: only a notification can stop it.
TRUSTING = dataclasses.replace(POLICY, token_trust_s=3600.0)


async def test_a_created_token_authenticates_as_its_info(open_store: Opener) -> None:
    gateway, cli = await open_store(), await open_store()
    before = clock.now()
    info, token = await cli.create_token("ci")
    assert token.startswith("iq_") and info.id.startswith("tok_")
    assert (info.name, info.admin, info.revoked_at) == ("ci", False, None)
    assert before <= info.created_at <= clock.now()
    assert await gateway.authenticate(token) == info


async def test_the_admin_flag_is_kept(backend: Backend) -> None:
    admin, admin_token = await backend.create_token("ops", admin=True)
    user, user_token = await backend.create_token("app")
    assert admin.admin and not user.admin
    assert await backend.authenticate(admin_token) == admin
    assert await backend.authenticate(user_token) == user
    assert [t.admin for t in await backend.list_tokens()] == [True, False]


async def test_a_wrong_token_authenticates_as_nobody(backend: Backend) -> None:
    _, token = await backend.create_token("ci")
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "", "iq_nonsense", token + "x"):
        assert await backend.authenticate(wrong) is None


async def test_tokens_are_listed_oldest_first_revoked_ones_included(backend: Backend) -> None:
    made = [(await backend.create_token(f"t{n}"))[0] for n in range(3)]
    assert await backend.revoke_token(made[1].id)
    listed = await backend.list_tokens()
    assert [t.id for t in listed] == [t.id for t in made]
    assert [t.name for t in listed] == ["t0", "t1", "t2"]
    assert [t.revoked_at is not None for t in listed] == [False, True, False]


async def test_a_revoked_token_stops_at_once_in_the_revoking_process(open_store: Opener) -> None:
    gateway = await open_store(TRUSTING)
    info, token = await gateway.create_token("ci")
    assert await gateway.authenticate(token) == info
    before = clock.now()
    assert await gateway.revoke_token(info.id)
    assert await gateway.authenticate(token) is None
    [revoked] = await gateway.list_tokens()
    assert revoked.revoked_at is not None and before <= revoked.revoked_at <= clock.now()


async def test_a_revocation_reaches_every_process_through_the_bus(open_store: Opener) -> None:
    gateway, cli = await open_store(TRUSTING), await open_store()
    info, token = await cli.create_token("ci")
    assert await gateway.authenticate(token) == info  # trusted from now on, for an hour
    assert await cli.revoke_token(info.id)
    await eventually(lambda: _refused(gateway, token), "the revocation to reach the gateway")


async def test_a_revocation_no_one_was_told_of_stops_the_token_within_its_trust(
    open_store: Opener,
) -> None:
    """A writer that revokes in the store and publishes nothing (or a notification lost
    without a gap): the token stops once the gateway's trust in it runs out."""
    gateway, cli = await open_store(dataclasses.replace(POLICY, token_trust_s=0.2)), await open_store()
    info, token = await cli.create_token("ci")
    assert await gateway.authenticate(token) == info
    assert await cli.tokens.revoke(info.id, clock.now())
    await eventually(lambda: _refused(gateway, token), "the trust in the token to run out")


async def test_a_token_made_in_another_process_works_at_once(open_store: Opener) -> None:
    gateway, cli = await open_store(TRUSTING), await open_store()
    assert await gateway.authenticate("iq_unknown_token") is None
    info, token = await cli.create_token("ci")
    assert await gateway.authenticate(token) == info


async def _refused(backend: Backend, token: str) -> bool:
    return await backend.authenticate(token) is None


async def test_revoking_an_unknown_or_revoked_token_is_false(backend: Backend) -> None:
    info, _ = await backend.create_token("ci")
    assert await backend.revoke_token(info.id)
    assert not await backend.revoke_token(info.id)
    assert not await backend.revoke_token("tok_nonexistent")


async def test_the_token_itself_is_never_stored(backend: Backend, store: Store) -> None:
    _, token = await backend.create_token("ci")
    assert token.encode() not in stored_bytes(store.url)
