"""The headers that carry a submit's scheduling options, named once for the gateway that
reads them (:mod:`inferq.gateway.request_options`) and the SDK that sends them."""

from __future__ import annotations

#: ``high``, ``normal`` or ``low``: the order among the caller's own requests.
PRIORITY = "Inferq-Priority"
#: A duration (as Replicate's header): the request is cancelled if it has not ended by then.
CANCEL_AFTER = "Cancel-After"
#: A duration: the request's data is kept that long after it ends, up to ``--max-retention``.
RETENTION = "Inferq-Retention"
#: The ``Prefer`` header's preference (RFC 7240) that answers a request from a completed one
#: of the same token, endpoint, model version and inputs when one is still kept.
PREFER = "Prefer"
REUSE = "reuse"
