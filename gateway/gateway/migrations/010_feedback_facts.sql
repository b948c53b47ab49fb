-- What the read model knows of each feedback item, from feedback's events (never its
-- text or anything about who sent it): enough to count feedback by theme, place, channel
-- and kind without calling the feedback service. ``deleted`` keeps a tombstone so a
-- late feedback_received event cannot bring a deleted item back.
CREATE TABLE IF NOT EXISTS feedback_facts (
    feedback_id     uuid        PRIMARY KEY,
    kind            text,
    place           text,
    channel         text,
    consultation_id uuid,
    received_at     timestamptz,
    urgent          boolean     NOT NULL DEFAULT false,
    themes          text[]      NOT NULL DEFAULT '{}',
    tone            text,
    themed_at       timestamptz,
    status          text        NOT NULL DEFAULT 'received',
    status_at       timestamptz,
    deleted         boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS feedback_facts_received ON feedback_facts (received_at)
    WHERE NOT deleted;

-- Feedback's theme taxonomy (theme_saved events): labels for the counts.
CREATE TABLE IF NOT EXISTS feedback_themes (
    slug     text        PRIMARY KEY,
    label    text        NOT NULL,
    active   boolean     NOT NULL DEFAULT true,
    priority text,
    event_at timestamptz
);
