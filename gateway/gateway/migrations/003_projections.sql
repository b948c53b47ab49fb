-- Read models the gateway builds from the services' domain events (gateway.readmodels.projections),
-- so dashboard reads never fan out RPC calls, and the dead letters operators must see.

-- One row per consultation surveys has told us about. ``event_at`` is the
-- occurred_at of the event the row reflects: an older event never overwrites a
-- newer one. ``response_count`` is kept by response_submitted events only.
CREATE TABLE IF NOT EXISTS consultation_summaries (
    id             uuid        PRIMARY KEY,
    title          text        NOT NULL DEFAULT '',
    places         text[]      NOT NULL DEFAULT '{}',
    priorities     text[]      NOT NULL DEFAULT '{}',
    status         text        NOT NULL DEFAULT 'unknown',
    opens_at       timestamptz,
    closes_at      timestamptz,
    outcome        jsonb,
    response_count integer     NOT NULL DEFAULT 0,
    event_at       timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS consultation_summaries_status ON consultation_summaries (status);

-- Responses per place ('' when the resident did not say where they live).
CREATE TABLE IF NOT EXISTS responses_by_place (
    consultation_id uuid    NOT NULL,
    place           text    NOT NULL,
    count           integer NOT NULL DEFAULT 0,
    PRIMARY KEY (consultation_id, place)
);

-- Messages that could not be processed after every retry (queue engage.dead-letters).
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial   PRIMARY KEY,
    message_id  text,
    queue       text        NOT NULL,
    error       text        NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}',
    body        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at DESC, id DESC);
