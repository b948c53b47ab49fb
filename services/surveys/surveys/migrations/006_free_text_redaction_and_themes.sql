-- Residents' free-text answers as staff may read them (issue 10). Each free-text answer
-- goes through the shared redactor (engage_common.redaction) when the response is stored:
-- ``answers`` keeps the original (the resident's own "see what you sent", erasure
-- searches), ``redacted_answers`` {question id: text} what everyone else is shown,
-- ``redactions`` {question id: [kind, ...]} what was removed, and ``redactor_version``
-- which redactor did it. Responses stored before this have none of them (NULL): the
-- surveys service redacts them in batches (``SurveysService.redact_backlog``), as it
-- does responses redacted by an older version of the redactor. Existing data is kept.
ALTER TABLE responses
    ADD COLUMN IF NOT EXISTS redacted_answers jsonb,
    ADD COLUMN IF NOT EXISTS redactions jsonb,
    ADD COLUMN IF NOT EXISTS redactor_version text;
CREATE INDEX IF NOT EXISTS responses_redactor_version ON responses (redactor_version);

-- Surveys' copy of the feedback service's theme taxonomy: seeded here from the ICS
-- configuration and the common topics (so suggestions work before any event arrives),
-- then kept up to date from feedback's ``theme_saved`` events. ``event_at`` is the
-- ``occurred_at`` of the event the row reflects (NULL: only seeded): an older event
-- never overwrites a newer one.
CREATE TABLE IF NOT EXISTS themes (
    slug     text        PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,59}$'),
    label    text        NOT NULL,
    keywords text[]      NOT NULL DEFAULT '{}',
    priority text,
    active   boolean     NOT NULL DEFAULT true,
    event_at timestamptz
);

-- Themes and tone of each free-text answer: what was suggested from the redacted text
-- (``suggested_themes`` [{theme, label, because}], ``suggested_tone``; NULL tone: not
-- suggested yet) and what staff confirmed (``themes``, ``tone``, once ``confirmed_at``
-- is set). Only confirmed themes count anywhere. Deleted with the response.
CREATE TABLE IF NOT EXISTS answer_themes (
    response_id      bigint      NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    question_id      text        NOT NULL,
    consultation_id  uuid        NOT NULL,
    suggested_themes jsonb       NOT NULL DEFAULT '[]',
    suggested_tone   text,
    themes           text[]      NOT NULL DEFAULT '{}',
    tone             text,
    confirmed_at     timestamptz,
    confirmed_by     jsonb,
    PRIMARY KEY (response_id, question_id)
);
CREATE INDEX IF NOT EXISTS answer_themes_question
    ON answer_themes (consultation_id, question_id, response_id);
