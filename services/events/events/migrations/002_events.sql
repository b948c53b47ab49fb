-- Engagement events (issue 11). The tables of 001 were never written (the service only
-- answered its health check until now), so they are replaced, not altered.
DROP TABLE IF EXISTS registrations;
DROP TABLE IF EXISTS engagement_events;

-- An event staff run. Times are UTC (shown in UK local time); the venue is a document
-- (name, address, postcode, features, directions); the joining link of an online session
-- goes only to people with a confirmed place. ``version`` goes up with every change, so
-- the email telling registrants of a change is sent once per change.
CREATE TABLE engagement_events (
    id                     uuid        PRIMARY KEY,
    version                integer     NOT NULL DEFAULT 1,
    kind                   text        NOT NULL,
    title                  jsonb       NOT NULL,
    description            jsonb       NOT NULL DEFAULT '{"en": ""}',
    place                  text,
    venue                  jsonb,
    online_link            text,
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz NOT NULL,
    capacity               integer     CHECK (capacity IS NULL OR capacity > 0),  -- NULL: no limit
    registration_opens_at  timestamptz,
    registration_closes_at timestamptz,  -- NULL: when the event starts
    consultation_ids       uuid[]      NOT NULL DEFAULT '{}',
    priorities             text[]      NOT NULL DEFAULT '{}',
    themes                 text[]      NOT NULL DEFAULT '{}',
    partners               text[]      NOT NULL DEFAULT '{}',
    status                 text        NOT NULL DEFAULT 'draft'
                           CHECK (status IN ('draft', 'published', 'cancelled')),
    cancelled_reason       text,
    attendance_recorded_at timestamptz,  -- staff recorded who came: no-shows count from then
    created_by             jsonb,
    updated_by             jsonb,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    published_at           timestamptz,
    cancelled_at           timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX engagement_events_upcoming ON engagement_events (starts_at)
    WHERE status = 'published';
CREATE INDEX engagement_events_place ON engagement_events (place, starts_at);
-- Retention: registrations of events that ended long enough ago.
CREATE INDEX engagement_events_ended ON engagement_events (ends_at);

-- The order of the waiting list: taken under the event's row lock, so it is the order
-- people registered in.
CREATE SEQUENCE registration_queue;

-- A place (or a place on the waiting list) at an event. Registering takes the event's row
-- lock and counts the confirmed places in the same transaction, so capacity is never
-- exceeded. ``idempotency_key_hash``: the same registration sent again is found, never
-- stored twice. The manage code (the resident's private link) is never stored: only its
-- SHA-256 hash, and the salt it is derived with from the idempotency key. Name and contact
-- are personal data, purged after the event (``purged_at``) or erased on request
-- (``erased_at``); the row stays, anonymous, so counts do not change.
CREATE TABLE registrations (
    id                   uuid        PRIMARY KEY,
    event_id             uuid        NOT NULL REFERENCES engagement_events (id),
    idempotency_key_hash text        NOT NULL,
    receipt_code         text        NOT NULL UNIQUE,
    manage_code_hash     text        UNIQUE,
    manage_salt          bytea,
    status               text        NOT NULL
                         CHECK (status IN ('confirmed', 'waiting', 'cancelled')),
    places               integer     NOT NULL CHECK (places > 0),
    queue_order          bigint      NOT NULL,  -- the waiting list's order (lowest first)
    moves                integer     NOT NULL DEFAULT 0,  -- status changes, keys their emails
    name                 text,
    email                text,
    phone                text,
    consent              jsonb,
    walk_in              boolean     NOT NULL DEFAULT false,
    attended             boolean,               -- NULL: not recorded
    registered_at        timestamptz NOT NULL,
    cancelled_at         timestamptz,
    reminded_at          timestamptz,           -- or registered when it was due
    purged_at            timestamptz,
    erased_at            timestamptz,
    UNIQUE (event_id, idempotency_key_hash)
);
CREATE INDEX registrations_event ON registrations (event_id, status, queue_order);
CREATE INDEX registrations_email ON registrations (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX registrations_reminder ON registrations (event_id)
    WHERE status = 'confirmed' AND email IS NOT NULL AND reminded_at IS NULL;

-- Optional equality monitoring: one document per registration (or walk-in), with the
-- question set it was asked in (engage_contracts.reference.EQUALITY_VERSION), kept apart.
CREATE TABLE registration_equality (
    registration_id uuid  PRIMARY KEY REFERENCES registrations (id) ON DELETE CASCADE,
    question_set    text  NOT NULL,
    answers         jsonb NOT NULL
);

-- Access needs, one row each: what staff must arrange (reasonable adjustments).
-- ``late``: asked for after its booking-ahead deadline (accepted, flagged).
CREATE TABLE adjustments (
    id              uuid        PRIMARY KEY,
    seq             bigserial   NOT NULL,  -- the order they were asked in
    registration_id uuid        NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    event_id        uuid        NOT NULL REFERENCES engagement_events (id),
    need            text        NOT NULL,
    detail          text        NOT NULL DEFAULT '',
    state           text        NOT NULL DEFAULT 'requested'
                    CHECK (state IN ('requested', 'arranged', 'not-possible')),
    reason          text,
    met             boolean,
    late            boolean     NOT NULL DEFAULT false,
    requested_at    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    updated_by      jsonb,
    CHECK (state <> 'not-possible' OR coalesce(reason, '') <> '')
);
CREATE INDEX adjustments_event ON adjustments (event_id, requested_at, seq);
CREATE INDEX adjustments_registration ON adjustments (registration_id);

-- "What we heard": points raised at an event. Staff read the redacted text and quote;
-- the originals are kept until the retention purge. A quote is public only when the
-- person allowed it (``may_quote``) and staff approved it (``quote_approved``).
CREATE TABLE points (
    id               uuid        PRIMARY KEY,
    event_id         uuid        NOT NULL REFERENCES engagement_events (id),
    text             text        NOT NULL,
    text_original    text,
    quote            text,
    quote_original   text,
    redactions       jsonb       NOT NULL DEFAULT '[]',
    redactor_version text        NOT NULL,
    themes           text[]      NOT NULL DEFAULT '{}',
    tone             text,
    place            text,
    may_quote        boolean     NOT NULL DEFAULT false,
    quote_approved   jsonb,                 -- {by: {staff_id, name}, at}
    recorded_by      jsonb       NOT NULL,
    recorded_at      timestamptz NOT NULL,
    purged_at        timestamptz
);
CREATE INDEX points_event ON points (event_id, recorded_at);

-- Emails to registrants waiting to go (a promotion, a change, a cancellation, a
-- reminder): written in the transaction of the change, sent after it commits and, if
-- the mail server was away, by a timer. The address is read when it is sent, so an
-- erased or stopped address gets nothing. Bodies hold no personal details.
CREATE TABLE pending_mail (
    message_key     text        PRIMARY KEY,
    registration_id uuid        NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    queued_at       timestamptz NOT NULL DEFAULT now()
);

-- The themes points may have: the feedback service's, kept from its ``theme_saved``
-- events (seeded from the ICS configuration at start, as feedback seeds them).
CREATE TABLE themes (
    slug     text        PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,59}$'),
    label    text        NOT NULL,
    priority text,
    active   boolean     NOT NULL DEFAULT true,
    event_at timestamptz
);
