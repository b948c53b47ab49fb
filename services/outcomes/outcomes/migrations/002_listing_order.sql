-- Outcomes listed in the order they were made: decisions moved over from one consultation
-- are made in one transaction, at one created_at, so a sequence says which came first.
ALTER TABLE outcomes ADD COLUMN seq bigserial;
CREATE INDEX outcomes_seq ON outcomes (seq);
DROP INDEX outcomes_listed;
