-- The home page lists open consultations from the read model while surveys is away,
-- so the read model keeps what the list shows: the summary beside the title.
ALTER TABLE consultation_summaries ADD COLUMN IF NOT EXISTS summary text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS consultation_summaries_open
    ON consultation_summaries (closes_at) WHERE status = 'open';
