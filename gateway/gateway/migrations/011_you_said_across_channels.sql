-- "You said" from every channel, kept from the services' events (gateway.readmodels):
-- contributions, not people (nothing links one person across channels).

-- A survey free-text answer whose themes staff confirmed (surveys' answer_themed).
CREATE TABLE IF NOT EXISTS answer_contributions (
    response_id     bigint      NOT NULL,
    question_id     text        NOT NULL,
    consultation_id uuid        NOT NULL,
    place           text,
    channel         text,
    themes          text[]      NOT NULL DEFAULT '{}',
    tone            text,
    occurred_at     timestamptz NOT NULL,
    event_at        timestamptz,
    PRIMARY KEY (response_id, question_id)
);
CREATE INDEX IF NOT EXISTS answer_contributions_themes ON answer_contributions USING gin (themes);
CREATE INDEX IF NOT EXISTS answer_contributions_consultation ON answer_contributions (consultation_id);

-- A point heard at an engagement event (events' point_heard; withdrawn ones go).
CREATE TABLE IF NOT EXISTS point_contributions (
    point_id         uuid        PRIMARY KEY,
    event_id         uuid        NOT NULL,
    place            text,
    consultation_ids uuid[]      NOT NULL DEFAULT '{}',
    themes           text[]      NOT NULL DEFAULT '{}',
    tone             text,
    occurred_at      timestamptz NOT NULL,
    withdrawn        boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS point_contributions_themes ON point_contributions USING gin (themes);

-- Words approved for publication (redacted, the person allowed quoting): feedback's and
-- events' quote_published.
CREATE TABLE IF NOT EXISTS published_quotes (
    source           text        NOT NULL,   -- feedback | event
    source_id        uuid        NOT NULL,
    quote            text        NOT NULL,
    place            text,
    themes           text[]      NOT NULL DEFAULT '{}',
    consultation_ids uuid[]      NOT NULL DEFAULT '{}',
    published_at     timestamptz NOT NULL,
    PRIMARY KEY (source, source_id)
);

-- "We did": published outcomes (outcomes' outcome_published / outcome_changed), and each
-- change as a line of their history.
CREATE TABLE IF NOT EXISTS outcome_records (
    id            uuid        PRIMARY KEY,
    kind          text        NOT NULL,
    title         jsonb       NOT NULL,
    status        text        NOT NULL,
    reason        jsonb,
    progress      integer     NOT NULL DEFAULT 0,
    places        text[]      NOT NULL DEFAULT '{}',
    priorities    text[]      NOT NULL DEFAULT '{}',
    themes        text[]      NOT NULL DEFAULT '{}',
    evidence      jsonb       NOT NULL DEFAULT '[]',
    evidence_keys text[]      NOT NULL DEFAULT '{}',
    parent_id     uuid,
    partner       text,
    due_date      date,
    event_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS outcome_records_keys ON outcome_records USING gin (evidence_keys);
CREATE INDEX IF NOT EXISTS outcome_records_themes ON outcome_records USING gin (themes);

CREATE TABLE IF NOT EXISTS outcome_record_history (
    event_id   uuid        PRIMARY KEY,
    outcome_id uuid        NOT NULL,
    at         timestamptz NOT NULL,
    status     text        NOT NULL,
    progress   integer     NOT NULL,
    reason     jsonb
);
CREATE INDEX IF NOT EXISTS outcome_record_history_outcome ON outcome_record_history (outcome_id, at);
