-- Surveys: consultations, responses, equality monitoring (kept apart from the
-- answers so it can be filtered on, reported on and deleted separately), and
-- submissions that were queued but could not be stored.

CREATE TABLE consultations (
    id            uuid        PRIMARY KEY,
    title         text        NOT NULL,
    summary       text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    places        text[]      NOT NULL DEFAULT '{}',
    priorities    text[]      NOT NULL DEFAULT '{}',
    opens_at      timestamptz,
    closes_at     timestamptz,
    status        text        NOT NULL DEFAULT 'draft'
                  CHECK (status IN ('draft', 'open', 'closed')),
    questionnaire jsonb       NOT NULL DEFAULT '{"questions": []}',
    outcome       jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    opened_at     timestamptz,
    closed_at     timestamptz,
    CHECK (closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at)
);
CREATE INDEX consultations_status_closes ON consultations (status, closes_at);
CREATE INDEX consultations_places ON consultations USING gin (places);
CREATE INDEX consultations_priorities ON consultations USING gin (priorities);

CREATE TABLE responses (
    id              bigserial   PRIMARY KEY,
    submission_id   uuid        NOT NULL UNIQUE,
    receipt_code    text        NOT NULL UNIQUE,
    consultation_id uuid        NOT NULL REFERENCES consultations (id),
    answers         jsonb       NOT NULL,
    place           text,
    consent         jsonb,
    submitted_at    timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responses_consultation ON responses (consultation_id, id);
CREATE INDEX responses_consultation_place ON responses (consultation_id, place);

CREATE TABLE equality_monitoring (
    response_id        bigint PRIMARY KEY REFERENCES responses (id) ON DELETE CASCADE,
    consultation_id    uuid   NOT NULL,
    age_band           text,
    sex                text,
    gender_identity    text,
    ethnicity          text,
    disability         text,
    sexual_orientation text,
    religion           text,
    unpaid_carer       text,
    postcode_district  text,
    derived_place      text
);
CREATE INDEX equality_age_band ON equality_monitoring (consultation_id, age_band);
CREATE INDEX equality_sex ON equality_monitoring (consultation_id, sex);
CREATE INDEX equality_gender_identity ON equality_monitoring (consultation_id, gender_identity);
CREATE INDEX equality_ethnicity ON equality_monitoring (consultation_id, ethnicity);
CREATE INDEX equality_disability ON equality_monitoring (consultation_id, disability);
CREATE INDEX equality_sexual_orientation
    ON equality_monitoring (consultation_id, sexual_orientation);
CREATE INDEX equality_religion ON equality_monitoring (consultation_id, religion);
CREATE INDEX equality_unpaid_carer ON equality_monitoring (consultation_id, unpaid_carer);
CREATE INDEX equality_postcode_district
    ON equality_monitoring (consultation_id, postcode_district);

CREATE TABLE rejected_submissions (
    id              bigserial   PRIMARY KEY,
    submission_id   uuid        NOT NULL UNIQUE,
    receipt_code    text        NOT NULL UNIQUE,
    consultation_id text        NOT NULL,
    reasons         jsonb       NOT NULL,
    submitted_at    timestamptz,
    rejected_at     timestamptz NOT NULL DEFAULT now()
);
