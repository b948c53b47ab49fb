-- Tokens expire (TOKEN_TTL_DAYS, default 90). Tokens issued before this migration get
-- the default from now, so nobody is locked out by the upgrade.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;
UPDATE api_tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX IF NOT EXISTS api_tokens_label ON api_tokens (label) WHERE revoked_at IS NULL;
