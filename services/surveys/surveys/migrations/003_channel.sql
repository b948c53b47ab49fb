-- How each response reached us (engage_contracts.shared.CHANNELS) and, for a response a
-- staff member entered on the resident's behalf (paper, phone, ...), who entered it.
-- Responses stored before this came through the API or the web form: 'online' for all.
ALTER TABLE responses ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT 'online';
ALTER TABLE responses ADD COLUMN IF NOT EXISTS entered_by jsonb;
