-- Themes staff tag feedback with (e.g. "waiting-times"); slugs are what items store.
CREATE TABLE themes (
    slug       text        PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,59}$'),
    label      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per piece of feedback a resident gave. submission_id is the gateway's
-- idempotency key, so a redelivered submission can never be stored twice.
CREATE TABLE feedback_items (
    id            uuid        PRIMARY KEY,
    submission_id uuid        NOT NULL UNIQUE,
    receipt_code  text        NOT NULL UNIQUE,
    place         text,
    priority      text,
    channel       text        NOT NULL,
    text          text        NOT NULL,
    themes        text[]      NOT NULL DEFAULT '{}',
    submitted_at  timestamptz NOT NULL
);
CREATE INDEX feedback_items_place ON feedback_items (place, submitted_at);
CREATE INDEX feedback_items_themes ON feedback_items USING gin (themes);
