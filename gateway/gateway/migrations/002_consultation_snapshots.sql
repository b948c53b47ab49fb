-- The last copy of each consultation the gateway saw, so a resident's response can be
-- checked and queued while the surveys service is down or restarting.
CREATE TABLE IF NOT EXISTS consultation_snapshots (
    consultation_id uuid PRIMARY KEY,
    body            jsonb       NOT NULL,
    fetched_at      timestamptz NOT NULL DEFAULT now()
);
