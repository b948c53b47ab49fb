-- Community feedback (issue 10). The tables of 001 were never written (the service only
-- answered its health check until now), so they are replaced, not altered.
DROP TABLE IF EXISTS feedback_items;
DROP TABLE IF EXISTS themes;

-- Themes: the ICS's priorities and ambitions and the common topics (seeded at start from
-- the ICS configuration), and staff's own. A retired theme stays on the items it was
-- confirmed on; the slug never changes, the label may.
CREATE TABLE themes (
    slug        text        PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,59}$'),
    label       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    keywords    text[]      NOT NULL DEFAULT '{}',
    priority    text,
    source      text        NOT NULL CHECK (source IN ('priority', 'ambition', 'common', 'staff')),
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per piece of feedback. Staff read the redacted ``about`` and ``text``; the
-- originals are kept for the triage team and the resident, and purged after retention.
-- ``version`` goes up with every change: a change carries the version it was made on
-- (``UPDATE ... WHERE version = %s``), so two staff never overwrite each other.
CREATE TABLE feedback_items (
    id                      uuid        PRIMARY KEY,
    version                 integer     NOT NULL DEFAULT 1,
    submission_id           uuid        NOT NULL UNIQUE,
    receipt_code            text        NOT NULL UNIQUE,
    kind                    text        NOT NULL,
    about                   text        NOT NULL,
    about_original          text,
    text                    text        NOT NULL,
    text_original           text,
    redactions              jsonb       NOT NULL DEFAULT '[]',
    redactor_version        text        NOT NULL,
    language_check          text        NOT NULL
                            CHECK (language_check IN ('checked', 'not-checked-automatically')),
    urgent                  boolean     NOT NULL DEFAULT false,
    safeguarding_categories text[]      NOT NULL DEFAULT '{}',
    safeguarding_matches    text[]      NOT NULL DEFAULT '{}',
    alerted_at              timestamptz,         -- the safeguarding contact was emailed
    place                   text,
    postcode_district       text,
    consultation_id         uuid,
    channel                 text        NOT NULL,
    entered_by              jsonb,
    source_id               text,
    content_hash            text,
    status                  text        NOT NULL DEFAULT 'received'
                            CHECK (status IN ('received', 'triaged', 'responded', 'closed')),
    suggested_themes        jsonb       NOT NULL DEFAULT '[]',
    themes                  text[]      NOT NULL DEFAULT '{}',
    suggested_tone          text,
    tone                    text,
    may_quote               boolean     NOT NULL DEFAULT false,
    quote                   text,
    quote_approved          jsonb,               -- {by: {staff_id, name}, at}
    reply_by                text        NOT NULL DEFAULT 'none',
    public_reply            text,
    replied_at              timestamptz,
    reply_mail_version      integer,             -- a reply waiting to be emailed
    consent                 jsonb,
    received_at             timestamptz NOT NULL,
    stored_at               timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    closed_at               timestamptz,
    purged_at               timestamptz,
    -- urgent or not read by the language check: top of the triage queue
    needs_attention         boolean     GENERATED ALWAYS AS
                            (urgent OR language_check = 'not-checked-automatically') STORED,
    -- full-text search over the redacted words only, stemmed English
    search                  tsvector    GENERATED ALWAYS AS
                            (to_tsvector('english', about || ' ' || text)) STORED
);

-- Search: newest first, keyset pages on (received_at, id), each filter with its own
-- index in that order so a filtered page is an index range, not a sort.
CREATE INDEX feedback_received ON feedback_items (received_at DESC, id DESC);
CREATE INDEX feedback_search ON feedback_items USING gin (search);
CREATE INDEX feedback_themes ON feedback_items USING gin (themes);
CREATE INDEX feedback_status ON feedback_items (status, received_at DESC, id DESC);
CREATE INDEX feedback_place ON feedback_items (place, received_at DESC, id DESC);
CREATE INDEX feedback_kind ON feedback_items (kind, received_at DESC, id DESC);
CREATE INDEX feedback_channel ON feedback_items (channel, received_at DESC, id DESC);
CREATE INDEX feedback_consultation ON feedback_items (consultation_id, received_at DESC, id DESC)
    WHERE consultation_id IS NOT NULL;
CREATE INDEX feedback_urgent ON feedback_items (received_at DESC, id DESC) WHERE urgent;
-- The triage queue: received items, those needing attention first, then oldest first.
CREATE INDEX feedback_triage_queue ON feedback_items (needs_attention DESC, received_at, id)
    WHERE status = 'received';
-- Import duplicates are looked up by the spreadsheet's row id or the content's hash.
CREATE INDEX feedback_source ON feedback_items (source_id) WHERE source_id IS NOT NULL;
CREATE INDEX feedback_content_hash ON feedback_items (content_hash)
    WHERE content_hash IS NOT NULL;
-- Retention: closed items whose personal details are still held.
CREATE INDEX feedback_retention ON feedback_items (closed_at)
    WHERE status = 'closed' AND purged_at IS NULL;
-- Mail still to send (the safeguarding alert, a reply by email).
CREATE INDEX feedback_mail_pending ON feedback_items (received_at)
    WHERE (urgent AND alerted_at IS NULL) OR reply_mail_version IS NOT NULL;

-- Who did what to an item, and when (``by_name`` NULL: the system).
CREATE TABLE feedback_history (
    id          bigserial   PRIMARY KEY,
    feedback_id uuid        NOT NULL REFERENCES feedback_items (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    staff_id    integer,
    by_name     text,
    action      text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX feedback_history_item ON feedback_history (feedback_id, id);

-- A resident's email address, only to reply: kept apart from what they said, and purged.
CREATE TABLE feedback_contacts (
    feedback_id uuid PRIMARY KEY REFERENCES feedback_items (id) ON DELETE CASCADE,
    email       text NOT NULL
);
CREATE INDEX feedback_contacts_email ON feedback_contacts (lower(email));

-- Optional equality monitoring: one document per item, with the question set it was
-- asked in (engage_contracts.reference.EQUALITY_VERSION), as surveys keeps it.
CREATE TABLE feedback_equality (
    feedback_id  uuid  PRIMARY KEY REFERENCES feedback_items (id) ON DELETE CASCADE,
    question_set text  NOT NULL,
    answers      jsonb NOT NULL
);

-- Queued messages that stored nothing, so their receipt still says why: rejected (their
-- shape or rules failed) or a duplicate of an item already imported.
CREATE TABLE unstored_submissions (
    submission_id uuid        PRIMARY KEY,
    receipt_code  text        NOT NULL UNIQUE,
    outcome       text        NOT NULL CHECK (outcome IN ('rejected', 'duplicate')),
    kind          text,
    reasons       jsonb       NOT NULL DEFAULT '[]',
    duplicate_of  uuid,
    submitted_at  timestamptz,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
