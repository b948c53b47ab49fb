-- Staff results filtered by one equality answer (``age_band`` = ``25-34``, with or without a
-- place) from counts kept up to date, as result_counts keeps them for everyone and places
-- (issue 15): a filter no longer joins every response of the consultation to the equality
-- rows. A row per consultation, equality field, group (the answer; a multiple-choice
-- answer once for each value chosen), question ('' for the responses themselves), answer
-- value ('' for "answered") and place ('' for none); n, rank_sum and firsts as in
-- result_counts. Two equality filters at once still count the matching responses.
CREATE TABLE IF NOT EXISTS equality_result_counts (
    consultation_id uuid   NOT NULL,
    field           text   NOT NULL,
    grp             text   NOT NULL,
    question_id     text   NOT NULL,
    value           text   NOT NULL,
    place           text   NOT NULL,
    n               bigint NOT NULL DEFAULT 0,
    rank_sum        bigint NOT NULL DEFAULT 0,
    firsts          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (consultation_id, field, grp, question_id, value, place)
);

-- The statement adding what the rows of relation %1$s (consultation_id, place, answers, and
-- eq: the response's equality answers) count for, times %2$s (1 or -1), in key order.
CREATE OR REPLACE FUNCTION equality_counts_sql() RETURNS text LANGUAGE sql IMMUTABLE AS $f$
SELECT $q$
INSERT INTO equality_result_counts AS t
    (consultation_id, field, grp, question_id, value, place, n, rank_sum, firsts)
SELECT consultation_id, field, grp, question_id, value, place,
       %2$s * sum(n), %2$s * sum(rank_sum), %2$s * sum(firsts)
FROM (
    WITH r AS (
        SELECT x.consultation_id, coalesce(x.place, '') AS place, x.answers, f.key AS field,
               g.grp, c.questionnaire
        FROM %1$s x JOIN consultations c ON c.id = x.consultation_id,
             jsonb_each(coalesce(x.eq, '{}'::jsonb)) f,
             LATERAL (SELECT f.value #>> '{}' AS grp WHERE jsonb_typeof(f.value) = 'string'
                      UNION ALL
                      SELECT jsonb_array_elements_text(f.value)
                      WHERE jsonb_typeof(f.value) = 'array') g
    ), a AS (
        SELECT r.consultation_id, r.field, r.grp, r.place, k.key AS qid, k.value AS answer,
               q->>'type' AS qtype
        FROM r, jsonb_each(r.answers) k, jsonb_array_elements(r.questionnaire->'questions') q
        WHERE q->>'id' = k.key
    )
    SELECT consultation_id, field, grp, '' AS question_id, '' AS value, place,
           count(*) AS n, 0::bigint AS rank_sum, 0::bigint AS firsts
    FROM r GROUP BY 1, 2, 3, 6
    UNION ALL
    SELECT consultation_id, field, grp, qid, '', place, count(*), 0, 0 FROM a
    GROUP BY 1, 2, 3, 4, 6
    UNION ALL
    SELECT consultation_id, field, grp, qid, answer #>> '{}', place, count(*), 0, 0 FROM a
    WHERE qtype IN ('single_choice', 'likert', 'rating')
      AND jsonb_typeof(answer) IN ('string', 'number')
    GROUP BY 1, 2, 3, 4, 5, 6
    UNION ALL
    SELECT consultation_id, field, grp, qid, el #>> '{}', place, count(*), 0, 0
    FROM a, jsonb_array_elements(a.answer) el
    WHERE qtype = 'multiple_choice' AND jsonb_typeof(answer) = 'array'
    GROUP BY 1, 2, 3, 4, 5, 6
    UNION ALL
    SELECT consultation_id, field, grp, qid, el.value #>> '{}', place, count(*),
           sum(el.position)::bigint, count(*) FILTER (WHERE el.position = 1)
    FROM a, jsonb_array_elements(a.answer) WITH ORDINALITY el(value, position)
    WHERE qtype = 'ranking' AND jsonb_typeof(answer) = 'array'
    GROUP BY 1, 2, 3, 4, 5, 6
) counted
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (consultation_id, field, grp, question_id, value, place) DO UPDATE
SET n = t.n + EXCLUDED.n, rank_sum = t.rank_sum + EXCLUDED.rank_sum,
    firsts = t.firsts + EXCLUDED.firsts
$q$
$f$;

-- Equality answers stored, changed (the purge drops the postcode district) or deleted on
-- their own: counted with their response's answers. Deleted with their response (the
-- cascade), the response is gone by then: responses_equality_uncounted took it off first.
CREATE OR REPLACE FUNCTION count_equality_results() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    joined CONSTANT text := '(SELECT r.consultation_id, r.place, r.answers, e.answers AS eq'
        ' FROM %s e JOIN responses r ON r.id = e.response_id)';
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format(equality_counts_sql(), format(joined, 'new_rows'), 1);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format(equality_counts_sql(), format(joined, 'old_rows'), -1);
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format(equality_counts_sql(), format(joined, 'old_rows'), -1);
        EXECUTE format(equality_counts_sql(), format(joined, 'new_rows'), 1);
    ELSE  -- TRUNCATE
        DELETE FROM equality_result_counts;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER equality_counted_on_insert AFTER INSERT ON equality_monitoring
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION count_equality_results();
CREATE TRIGGER equality_counted_on_update AFTER UPDATE ON equality_monitoring
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION count_equality_results();
CREATE TRIGGER equality_counted_on_delete AFTER DELETE ON equality_monitoring
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION count_equality_results();
CREATE TRIGGER equality_counted_on_truncate AFTER TRUNCATE ON equality_monitoring
    FOR EACH STATEMENT EXECUTE FUNCTION count_equality_results();

-- A response's counted columns changed (erasing free text, ...): its equality counts move.
CREATE OR REPLACE FUNCTION recount_equality_results() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed CONSTANT text := '(SELECT x.consultation_id, x.place, x.answers, e.answers AS eq'
        ' FROM %s x JOIN %s y ON y.id = x.id JOIN equality_monitoring e ON e.response_id = x.id'
        ' WHERE (x.consultation_id, x.place, x.answers)'
        ' IS DISTINCT FROM (y.consultation_id, y.place, y.answers))';
BEGIN
    EXECUTE format(equality_counts_sql(), format(changed, 'old_rows', 'new_rows'), -1);
    EXECUTE format(equality_counts_sql(), format(changed, 'new_rows', 'old_rows'), 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER responses_equality_recounted AFTER UPDATE ON responses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION recount_equality_results();

-- A response deleted (erasure): its equality counts go while its equality row is still
-- there (the cascade deletes that row after the response).
CREATE OR REPLACE FUNCTION uncount_equality_results() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(equality_counts_sql(),
        format('(SELECT r.consultation_id, r.place, r.answers, e.answers AS eq'
               ' FROM responses r JOIN equality_monitoring e ON e.response_id = r.id'
               ' WHERE r.id = %s)', OLD.id), -1);
    RETURN OLD;
END
$$;

CREATE TRIGGER responses_equality_uncounted BEFORE DELETE ON responses
    FOR EACH ROW EXECUTE FUNCTION uncount_equality_results();

-- What the equality answers stored before this count for.
DO $$ BEGIN
    EXECUTE format(equality_counts_sql(),
        '(SELECT r.consultation_id, r.place, r.answers, e.answers AS eq'
        ' FROM equality_monitoring e JOIN responses r ON r.id = e.response_id)', 1);
END $$;
