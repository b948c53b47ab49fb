-- Text residents read is kept by language, {"en": "..."}, so that later languages need no
-- migration of stored data (engage_contracts.shared.LocalisedText). What was stored as
-- plain text is English.
CREATE FUNCTION pg_temp.en(v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN jsonb_build_object('en', v) ELSE v END
$$;

CREATE FUNCTION pg_temp.question(q jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT q
        || jsonb_build_object('text', pg_temp.en(q -> 'text'))
        || CASE WHEN q ? 'hint' THEN jsonb_build_object('hint', pg_temp.en(q -> 'hint'))
                ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(q -> 'options') = 'array' THEN jsonb_build_object('options',
                (SELECT jsonb_agg(o || jsonb_build_object('label', pg_temp.en(o -> 'label'))
                                  ORDER BY i)
                 FROM jsonb_array_elements(q -> 'options') WITH ORDINALITY AS x(o, i)))
                ELSE '{}'::jsonb END
$$;

CREATE FUNCTION pg_temp.decision(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT d
        || jsonb_build_object('you_said', pg_temp.en(d -> 'you_said'),
                              'we_did', pg_temp.en(d -> 'we_did'))
        || CASE WHEN d ? 'reason' THEN jsonb_build_object('reason', pg_temp.en(d -> 'reason'))
                ELSE '{}'::jsonb END
$$;

ALTER TABLE consultations
    ALTER COLUMN title TYPE jsonb USING jsonb_build_object('en', title),
    ALTER COLUMN summary TYPE jsonb USING jsonb_build_object('en', summary),
    ALTER COLUMN description DROP DEFAULT,
    ALTER COLUMN description TYPE jsonb USING jsonb_build_object('en', description);
ALTER TABLE consultations ALTER COLUMN description SET DEFAULT '{"en": ""}';

UPDATE consultations SET questionnaire = jsonb_set(questionnaire, '{questions}', COALESCE(
    (SELECT jsonb_agg(pg_temp.question(q) ORDER BY i)
     FROM jsonb_array_elements(questionnaire -> 'questions') WITH ORDINALITY AS x(q, i)),
    '[]'::jsonb))
WHERE jsonb_typeof(questionnaire -> 'questions') = 'array';

UPDATE consultations SET outcome = outcome
    || jsonb_build_object('summary', pg_temp.en(outcome -> 'summary'))
    || jsonb_build_object('decisions', COALESCE(
        (SELECT jsonb_agg(pg_temp.decision(d) ORDER BY i)
         FROM jsonb_array_elements(outcome -> 'decisions') WITH ORDINALITY AS x(d, i)),
        '[]'::jsonb))
WHERE outcome IS NOT NULL;
