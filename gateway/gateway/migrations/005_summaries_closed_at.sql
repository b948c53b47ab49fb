-- When a consultation actually closed (staff can close one before its planned date).
ALTER TABLE consultation_summaries ADD COLUMN IF NOT EXISTS closed_at timestamptz;
