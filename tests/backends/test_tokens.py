"""API tokens: minted and shown once, stored hashed, listed oldest first, revoked at once."""

from __future__ import annotations

import pytest

from inferq.backends import Backend
from inferq.domain import clock
from tests.backends.helpers import Opener
from tests.backends.stores import Store
from tests.store import stored_bytes

pytestmark = pytest.mark.anyio


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


async def test_a_revoked_token_stops_at_once_in_every_process(open_store: Opener) -> None:
    gateway, cli = await open_store(), await open_store()
    info, token = await cli.create_token("ci")
    assert await gateway.authenticate(token) == info
    before = clock.now()
    assert await cli.revoke_token(info.id)
    assert await gateway.authenticate(token) is None
    [revoked] = await gateway.list_tokens()
    assert revoked.revoked_at is not None and before <= revoked.revoked_at <= clock.now()


async def test_revoking_an_unknown_or_revoked_token_is_false(backend: Backend) -> None:
    info, _ = await backend.create_token("ci")
    assert await backend.revoke_token(info.id)
    assert not await backend.revoke_token(info.id)
    assert not await backend.revoke_token("tok_nonexistent")


async def test_the_token_itself_is_never_stored(backend: Backend, store: Store) -> None:
    _, token = await backend.create_token("ci")
    assert token.encode() not in stored_bytes(store.url)
