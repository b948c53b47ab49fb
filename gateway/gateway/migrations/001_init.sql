-- Staff who use the staff API, their bearer tokens (stored only as SHA-256
-- hashes) and an audit log of what they changed.
CREATE TABLE IF NOT EXISTS staff_users (
    id          bigserial PRIMARY KEY,
    email       text        NOT NULL,
    name        text        NOT NULL,
    role        text        NOT NULL
                CHECK (role IN ('admin', 'engagement-officer', 'analyst', 'board-viewer')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Emails are compared case-insensitively.
CREATE UNIQUE INDEX IF NOT EXISTS staff_users_email ON staff_users (lower(email));

CREATE TABLE IF NOT EXISTS api_tokens (
    id            bigserial PRIMARY KEY,
    token_hash    text        NOT NULL UNIQUE,   -- hex SHA-256 of the whole token
    prefix        text        NOT NULL UNIQUE,   -- public id shown to admins, e.g. eng_3f9a1c2b
    label         text        NOT NULL DEFAULT '',
    staff_user_id bigint      NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX IF NOT EXISTS api_tokens_staff_user ON api_tokens (staff_user_id);

CREATE TABLE IF NOT EXISTS audit_log (
    id            bigserial PRIMARY KEY,
    staff_user_id bigint      REFERENCES staff_users (id) ON DELETE SET NULL,
    action        text        NOT NULL,
    target        text        NOT NULL DEFAULT '',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
