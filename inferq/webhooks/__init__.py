"""Webhooks: signed POSTs to a request's webhook when it starts or ends, sent from a durable outbox.

The store queues each delivery atomically with the state change it reports
(:mod:`inferq.domain.webhooks`); the gateway's :class:`~inferq.webhooks.deliverer.Deliverer`
sends it, signed as Standard Webhooks specifies, to an address the policy allows, and
retries on a schedule of hours.
"""
