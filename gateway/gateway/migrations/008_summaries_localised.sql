-- Consultation titles and summaries arrive by language ({"en": ...}) since surveys keeps
-- text residents read that way; what the read model held already is English.
ALTER TABLE consultation_summaries
    ALTER COLUMN title DROP DEFAULT,
    ALTER COLUMN title TYPE jsonb USING jsonb_build_object('en', title),
    ALTER COLUMN summary DROP DEFAULT,
    ALTER COLUMN summary TYPE jsonb USING jsonb_build_object('en', summary);
ALTER TABLE consultation_summaries
    ALTER COLUMN title SET DEFAULT '{"en": ""}',
    ALTER COLUMN summary SET DEFAULT '{"en": ""}';
