"""Webhooks: events written to a durable outbox with the change they report, and sent,
signed and retried, by a dispatcher in every serving process (docs/webhooks.md)."""
