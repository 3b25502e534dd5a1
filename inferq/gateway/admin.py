"""What an admin token may do beyond a user token, decided in one place.

An admin manages tokens, reads ``/metrics`` (its totals are summed over every tenant),
and sees every tenant's requests: lists them, reads and long-polls their state, and
cancels them (an operator stops runaway work). It never reads another tenant's inputs
or outputs: ``/response``, ``DELETE`` and ``/events`` stay with the owner, so those
routes keep using the caller's own id and never come here; nor the error message of
another tenant's failed request, which a model may write its inputs into, nor its webhook URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.errors import Forbidden, InvalidInput
from inferq.gateway.state import state_of

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.domain.records import RequestRecord
    from inferq.protocol.requests import RequestStatus


def require_admin(request: Request, what: str) -> None:
    """Refuse a user token with 403 ``forbidden``, naming what it asked for."""
    if not request.user.is_admin:
        raise Forbidden(f"{what} needs an admin token")


async def tenant_of(request: Request, response_id: str) -> str:
    """The tenant to act as on ``response_id``: the caller's own, or for an admin the
    request's owner (raising the owner's 404 when it is gone)."""
    if not request.user.is_admin:
        return str(request.user.id)
    return await state_of(request).backend.owner(response_id)


def as_seen_by(request: Request, record: RequestRecord, doc: RequestStatus) -> RequestStatus:
    """A status document as the caller may see it. An admin also sees whose it is; of
    another tenant's request neither its webhook URL nor, when it failed, more of the error
    than its type, since a model may write its inputs into the message."""
    if request.user.is_admin:
        doc["tenant"] = record.tenant
        if record.tenant != request.user.id:
            doc.pop("webhook", None)
            if "error" in doc:
                doc["error"] = {"type": record.error_type}
    return doc


def listed_tenant(request: Request) -> str | None:
    """Whose requests ``GET /v1/requests`` lists: the caller's; for an admin every
    tenant's (None), or the one token id named by ``?tenant=``."""
    named = request.query_params.get("tenant")
    if named is None:
        return None if request.user.is_admin else str(request.user.id)
    require_admin(request, "the tenant filter of /v1/requests")
    if not named:
        raise InvalidInput("tenant must be a token id (tok_...), got ''", field="tenant")
    return named
