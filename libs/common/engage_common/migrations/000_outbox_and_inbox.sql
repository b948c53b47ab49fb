-- Transactional outbox: domain events are written in the same transaction as the
-- change they describe, and a relay publishes them afterwards (at least once).
CREATE TABLE IF NOT EXISTS outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    source       text        NOT NULL,
    event_type   text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Idempotent consumers: a handler records each event id it has applied, in the
-- same transaction as its effect, so a redelivered event changes nothing.
CREATE TABLE IF NOT EXISTS processed_messages (
    message_id   text        NOT NULL,
    handler      text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, handler)
);
