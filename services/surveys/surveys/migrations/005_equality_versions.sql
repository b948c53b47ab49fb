-- Equality monitoring follows the ONS Census 2021 questions from question set 2026-11,
-- which adds questions (marriage and civil partnership, pregnancy and maternity, the
-- conditions a resident has) and changes some answers (unpaid care hours, disability).
-- Each response keeps the set it was asked in and its answers as a document, so old
-- answers are never re-labelled and a new question needs no migration.
ALTER TABLE equality_monitoring
    ADD COLUMN question_set text NOT NULL DEFAULT '2026-01',
    ADD COLUMN answers jsonb NOT NULL DEFAULT '{}';

UPDATE equality_monitoring SET answers = jsonb_strip_nulls(jsonb_build_object(
    'age_band', age_band, 'sex', sex, 'gender_identity', gender_identity,
    'ethnicity', ethnicity, 'disability', disability,
    'sexual_orientation', sexual_orientation, 'religion', religion,
    'unpaid_carer', unpaid_carer, 'postcode_district', postcode_district));

ALTER TABLE equality_monitoring ALTER COLUMN question_set DROP DEFAULT;
ALTER TABLE equality_monitoring
    DROP COLUMN age_band, DROP COLUMN sex, DROP COLUMN gender_identity,
    DROP COLUMN ethnicity, DROP COLUMN disability, DROP COLUMN sexual_orientation,
    DROP COLUMN religion, DROP COLUMN unpaid_carer, DROP COLUMN postcode_district;

CREATE INDEX equality_answers ON equality_monitoring USING gin (answers jsonb_path_ops);
CREATE INDEX equality_consultation ON equality_monitoring (consultation_id);
