-- Engagement events staff run (drop-ins, workshops, listening events).
CREATE TABLE engagement_events (
    id            uuid        PRIMARY KEY,
    title         text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    place         text,
    venue         text        NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    capacity      integer     CHECK (capacity IS NULL OR capacity > 0),  -- NULL: no limit
    accessibility jsonb       NOT NULL DEFAULT '{}',
    status        text        NOT NULL DEFAULT 'draft'
                              CHECK (status IN ('draft', 'published', 'cancelled')),
    CHECK (ends_at > starts_at)
);
CREATE INDEX engagement_events_upcoming ON engagement_events (starts_at) WHERE status = 'published';

-- A resident's place at an event. submission_id is the gateway's idempotency key,
-- so a redelivered registration is stored once. name/contact are personal data.
CREATE TABLE registrations (
    id                  uuid        PRIMARY KEY,
    engagement_event_id uuid        NOT NULL REFERENCES engagement_events (id),
    submission_id       uuid        NOT NULL UNIQUE,
    receipt_code        text        NOT NULL UNIQUE,
    name                text        NOT NULL,
    contact             text        NOT NULL,
    access_needs        text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registrations_event ON registrations (engagement_event_id);
