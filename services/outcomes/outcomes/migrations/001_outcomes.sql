-- "We did": decisions, actions and commitments (issue 12), the evidence each answers,
-- their dated history, and the residents who asked to hear back.

-- One row per outcome: its record (what staff edit) and its current status and progress
-- (moved only by a history entry). A draft has no published_at; final_at is when it last
-- reached a final status (done, not taken forward), NULL while it is not in one.
CREATE TABLE outcomes (
    id           uuid        PRIMARY KEY,
    reference    text        UNIQUE,             -- staff's own key (a CSV import's)
    kind         text        NOT NULL CHECK (kind IN ('decision', 'action', 'commitment')),
    title        jsonb       NOT NULL,           -- {"en": ...}
    description  jsonb       NOT NULL DEFAULT '{"en": ""}',
    you_said     jsonb       NOT NULL DEFAULT '{"en": ""}',
    partner      text,
    owner        text,
    due_date     date,
    status       text        NOT NULL
                 CHECK (status IN ('planned', 'in-progress', 'done', 'not-taken-forward')),
    reason       jsonb,
    progress     integer     NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    places       text[]      NOT NULL DEFAULT '{}',
    priorities   text[]      NOT NULL DEFAULT '{}',
    themes       text[]      NOT NULL DEFAULT '{}',
    parent_id    uuid        REFERENCES outcomes (id) CHECK (parent_id <> id),
    published_at timestamptz,
    final_at     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'not-taken-forward' OR reason IS NOT NULL)
);
CREATE INDEX outcomes_parent ON outcomes (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX outcomes_listed ON outcomes (created_at, id);
CREATE INDEX outcomes_places ON outcomes USING gin (places);
CREATE INDEX outcomes_priorities ON outcomes USING gin (priorities);
CREATE INDEX outcomes_themes ON outcomes USING gin (themes);

-- What an outcome answers. evidence_key is engage_contracts.outcomes.evidence_key(link);
-- consultation_id is set for consultation and question links, so a consultation finds
-- the outcomes on any of its questions too.
CREATE TABLE outcome_evidence (
    outcome_id      uuid    NOT NULL REFERENCES outcomes (id),
    evidence_key    text    NOT NULL,
    kind            text    NOT NULL,
    consultation_id uuid,
    position        integer NOT NULL,
    link            jsonb   NOT NULL,
    PRIMARY KEY (outcome_id, evidence_key)
);
CREATE INDEX outcome_evidence_key ON outcome_evidence (evidence_key);
CREATE INDEX outcome_evidence_consultation ON outcome_evidence (consultation_id)
    WHERE consultation_id IS NOT NULL;

-- Dated progress updates. Appended only: the table refuses UPDATE and DELETE, so what was
-- said about an outcome at the time stays as it was said.
CREATE TABLE outcome_history (
    id         bigserial   PRIMARY KEY,
    outcome_id uuid        NOT NULL REFERENCES outcomes (id),
    at         timestamptz NOT NULL,             -- when it was recorded
    on_date    date,                             -- the date the update is for
    staff_id   integer,
    by_name    text,                             -- NULL: the system (e.g. moved from surveys)
    status     text        NOT NULL,
    progress   integer     NOT NULL,
    note       jsonb,
    reason     jsonb
);
CREATE INDEX outcome_history_outcome ON outcome_history (outcome_id, id);

CREATE FUNCTION outcome_history_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'outcome history is never changed or deleted';
END;
$$;
CREATE TRIGGER outcome_history_kept BEFORE UPDATE OR DELETE ON outcome_history
    FOR EACH ROW EXECUTE FUNCTION outcome_history_is_kept();

-- Residents who asked to hear back. id is the follow_id (the queued message's key), so a
-- redelivered follow stores nothing. The address is kept apart (follower_contacts) and
-- purged after retention; the rest holds nothing personal.
CREATE TABLE followers (
    id             uuid        PRIMARY KEY,
    channel        text        NOT NULL,
    consent        jsonb       NOT NULL,         -- {given, version, wording}
    created_at     timestamptz NOT NULL,
    last_digest_on date,                         -- UK calendar day of the last digest
    stopped_at     timestamptz,
    purged_at      timestamptz
);

CREATE TABLE follower_contacts (
    follower_id uuid PRIMARY KEY REFERENCES followers (id) ON DELETE CASCADE,
    email       text NOT NULL
);
CREATE INDEX follower_contacts_email ON follower_contacts (lower(email));

CREATE TABLE follower_evidence (
    follower_id     uuid NOT NULL REFERENCES followers (id) ON DELETE CASCADE,
    evidence_key    text NOT NULL,
    kind            text NOT NULL,
    consultation_id uuid,
    PRIMARY KEY (follower_id, evidence_key)
);
CREATE INDEX follower_evidence_key ON follower_evidence (evidence_key);
CREATE INDEX follower_evidence_consultation ON follower_evidence (consultation_id)
    WHERE consultation_id IS NOT NULL;

-- "Stop these updates" links: each digest carries a new random token; only its SHA-256
-- is kept, so the table cannot be used to stop anyone's updates.
CREATE TABLE follower_tokens (
    token_hash  text        PRIMARY KEY,
    follower_id uuid        NOT NULL REFERENCES followers (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- What a follower is to be told in their next digest: an outcome linked to their evidence
-- was published or changed status. sent_at: went in the digest digest_key.
CREATE TABLE pending_notices (
    id          bigserial   PRIMARY KEY,
    follower_id uuid        NOT NULL REFERENCES followers (id) ON DELETE CASCADE,
    outcome_id  uuid        NOT NULL REFERENCES outcomes (id),
    what        text        NOT NULL CHECK (what IN ('published', 'changed')),
    status      text        NOT NULL,            -- the outcome's status at the time
    created_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    digest_key  text
);
CREATE INDEX pending_notices_unsent ON pending_notices (follower_id, id) WHERE sent_at IS NULL;

-- Consultation outcomes moved over from surveys' outcome_published: the newest event
-- applied per consultation, so an older one delivered late changes nothing.
CREATE TABLE moved_consultations (
    consultation_id uuid        PRIMARY KEY,
    event_id        text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    decisions       integer     NOT NULL
);

-- Which followers an outcome concerns: the same evidence, or (either way round) a
-- consultation and one of its questions. Each branch is an index lookup; UNION makes each
-- (follower, outcome) pair appear once.
CREATE VIEW follower_outcomes AS
    SELECT fe.follower_id, oe.outcome_id
      FROM follower_evidence fe JOIN outcome_evidence oe ON oe.evidence_key = fe.evidence_key
    UNION
    SELECT fe.follower_id, oe.outcome_id
      FROM follower_evidence fe JOIN outcome_evidence oe ON oe.consultation_id = fe.consultation_id
     WHERE fe.kind = 'consultation' AND oe.kind = 'question'
    UNION
    SELECT fe.follower_id, oe.outcome_id
      FROM follower_evidence fe JOIN outcome_evidence oe ON oe.consultation_id = fe.consultation_id
     WHERE fe.kind = 'question' AND oe.kind = 'consultation';
