-- UK GDPR: when a response's personal details (free text, postcode district, consent)
-- were purged after the retention period. Choice answers and the derived place stay,
-- so results are unchanged.
ALTER TABLE responses ADD COLUMN IF NOT EXISTS purged_at timestamptz;
CREATE INDEX IF NOT EXISTS consultations_closed_at ON consultations (closed_at)
    WHERE status = 'closed';
