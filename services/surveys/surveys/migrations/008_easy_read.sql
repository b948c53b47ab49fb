-- Easy read: a consultation's easy-read version (its points and its questions' easy-read
-- wording, text by language, as engage_contracts.surveys.EasyReadSchema), and the pictures
-- uploaded for it, each named by the sha256 of its bytes (so a URL never changes meaning).
ALTER TABLE consultations ADD COLUMN easy_read jsonb;

CREATE TABLE easy_read_images (
    consultation_id uuid        NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type    text        NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data            bytea       NOT NULL CHECK (octet_length(data) <= 512000),
    width           integer     NOT NULL,
    height          integer     NOT NULL,
    alt             jsonb       NOT NULL,
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consultation_id, sha256)
);
