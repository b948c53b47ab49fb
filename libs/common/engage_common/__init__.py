"""Code the Engage services genuinely share: connections, the outbox, errors, reference data."""
