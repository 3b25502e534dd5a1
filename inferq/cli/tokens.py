"""``inferq token``: create, list and revoke API tokens, straight in the backend."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import click

from inferq.cli.options import backend_option
from inferq.cli.running import run
from inferq.domain.clock import isoformat


@click.group()
def token() -> None:
    """Create, list and revoke API tokens."""


async def _with_backend(url: str, action: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    from inferq.backends import open_backend

    backend = open_backend(url)
    await backend.start()
    try:
        return await action(backend)
    finally:
        await backend.close()


@token.command("create")
@backend_option
@click.option("--name", default="default", show_default=True)
@click.option("--admin", is_flag=True, help="Also manage tokens, read /metrics, see every tenant's requests.")
def token_create(backend: str, name: str, admin: bool) -> None:
    """Mint a token; it is shown once, alone on the last line."""
    info, secret = run(_with_backend(backend, lambda b: b.create_token(name, admin=admin)))
    click.echo(f"created {'admin' if info.admin else 'user'} token {info.id} ({info.name})")
    click.echo(secret)


@token.command("list")
@backend_option
def token_list(backend: str) -> None:
    """Show every token's id, name, kind (admin or user) and state (never the token itself)."""
    for info in run(_with_backend(backend, lambda b: b.list_tokens())):
        state = f"revoked {isoformat(info.revoked_at)}" if info.revoked_at else "active"
        kind = "admin" if info.admin else "user"
        click.echo(f"{info.id}\t{info.name}\t{isoformat(info.created_at)}\t{state}\t{kind}")


@token.command("revoke")
@backend_option
@click.argument("token_id")
def token_revoke(backend: str, token_id: str) -> None:
    """Revoke TOKEN_ID at once: requests made with it stop being served."""
    if not run(_with_backend(backend, lambda b: b.revoke_token(token_id))):
        raise click.ClickException(f"no active token {token_id!r}")
    click.echo(f"revoked {token_id}")
