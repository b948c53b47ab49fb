-- Staff results as counts kept up to date, so a consultation's results never rescan its
-- responses (issue 15). Triggers on responses change them in the statement that stores,
-- deletes or purges responses (whichever way: the service, COPY, a migration), by place
-- and channel, so results for everyone or for one place read a few rows. Free text is
-- never counted here by its words: only how many answered. A row per consultation,
-- question ('' for the responses themselves), answer value ('' for "answered"), place
-- and channel ('' for none):
--   n        how many (responses; answers to the question; answers with the value)
--   rank_sum the positions a ranking option was given, added up (its mean rank: / n)
--   firsts   how many put a ranking option first
CREATE TABLE IF NOT EXISTS result_counts (
    consultation_id uuid   NOT NULL,
    question_id     text   NOT NULL,
    value           text   NOT NULL,
    place           text   NOT NULL,
    channel         text   NOT NULL,
    n               bigint NOT NULL DEFAULT 0,
    rank_sum        bigint NOT NULL DEFAULT 0,
    firsts          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (consultation_id, question_id, value, place, channel)
);

-- The statement adding what the responses in relation %1$s count for, times %2$s (1 or
-- -1). The questionnaire says which answers are counted by value (choices, Likert,
-- ratings, rankings), never free text. Rows are changed in key order, so transactions
-- counting at the same time wait for each other rather than deadlock.
CREATE OR REPLACE FUNCTION result_counts_sql() RETURNS text LANGUAGE sql IMMUTABLE AS $f$
SELECT $q$
INSERT INTO result_counts AS t
    (consultation_id, question_id, value, place, channel, n, rank_sum, firsts)
SELECT consultation_id, question_id, value, place, channel,
       %2$s * sum(n), %2$s * sum(rank_sum), %2$s * sum(firsts)
FROM (
    WITH r AS (
        SELECT r.consultation_id, coalesce(r.place, '') AS place, r.channel, r.answers,
               c.questionnaire
        FROM %1$s r JOIN consultations c ON c.id = r.consultation_id
    ), a AS (
        SELECT r.consultation_id, r.place, r.channel, k.key AS qid, k.value AS answer,
               q->>'type' AS qtype
        FROM r, jsonb_each(r.answers) k, jsonb_array_elements(r.questionnaire->'questions') q
        WHERE q->>'id' = k.key
    )
    SELECT consultation_id, '' AS question_id, '' AS value, place, channel,
           count(*) AS n, 0::bigint AS rank_sum, 0::bigint AS firsts
    FROM r GROUP BY 1, 4, 5
    UNION ALL
    SELECT consultation_id, qid, '', place, channel, count(*), 0, 0 FROM a GROUP BY 1, 2, 4, 5
    UNION ALL
    SELECT consultation_id, qid, answer #>> '{}', place, channel, count(*), 0, 0 FROM a
    WHERE qtype IN ('single_choice', 'likert', 'rating')
      AND jsonb_typeof(answer) IN ('string', 'number')
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT consultation_id, qid, el #>> '{}', place, channel, count(*), 0, 0
    FROM a, jsonb_array_elements(a.answer) el
    WHERE qtype = 'multiple_choice' AND jsonb_typeof(answer) = 'array'
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT consultation_id, qid, el.value #>> '{}', place, channel, count(*),
           sum(el.position)::bigint, count(*) FILTER (WHERE el.position = 1)
    FROM a, jsonb_array_elements(a.answer) WITH ORDINALITY el(value, position)
    WHERE qtype = 'ranking' AND jsonb_typeof(answer) = 'array'
    GROUP BY 1, 2, 3, 4, 5
) counted
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (consultation_id, question_id, value, place, channel) DO UPDATE
SET n = t.n + EXCLUDED.n, rank_sum = t.rank_sum + EXCLUDED.rank_sum,
    firsts = t.firsts + EXCLUDED.firsts
$q$
$f$;

-- Transition tables are seen only by the trigger function's own statements: it runs the
-- statement itself. An update counts only the responses whose counted columns changed
-- (redacting free text, confirming themes: nothing).
CREATE OR REPLACE FUNCTION count_results() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format(result_counts_sql(), 'new_rows', 1);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format(result_counts_sql(), 'old_rows', -1);
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format(result_counts_sql(),
            '(SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id'
            ' WHERE (o.consultation_id, o.place, o.channel, o.answers)'
            ' IS DISTINCT FROM (n.consultation_id, n.place, n.channel, n.answers))', -1);
        EXECUTE format(result_counts_sql(),
            '(SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id'
            ' WHERE (o.consultation_id, o.place, o.channel, o.answers)'
            ' IS DISTINCT FROM (n.consultation_id, n.place, n.channel, n.answers))', 1);
    ELSE  -- TRUNCATE
        DELETE FROM result_counts;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER responses_counted_on_insert AFTER INSERT ON responses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_results();
CREATE TRIGGER responses_counted_on_update AFTER UPDATE ON responses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_results();
CREATE TRIGGER responses_counted_on_delete AFTER DELETE ON responses
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_results();
CREATE TRIGGER responses_counted_on_truncate AFTER TRUNCATE ON responses
    FOR EACH STATEMENT EXECUTE FUNCTION count_results();

-- What the responses stored before this count for.
DO $$ BEGIN EXECUTE format(result_counts_sql(), 'responses', 1); END $$;
