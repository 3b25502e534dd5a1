"""Standard Webhooks headers: ``webhook-id``, ``webhook-timestamp`` and an HMAC-SHA256 signature."""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook

from inferq._version import __version__

USER_AGENT = f"inferq-webhooks/{__version__}"


def signed_headers(secret: str, webhook_id: str, body: bytes, now: float) -> dict[str, str]:
    """Headers for one attempt; the timestamp is the attempt's, the id the delivery's."""
    timestamp = datetime.fromtimestamp(int(now), UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body.decode()),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
