-- A period that is not whole UK days reads its part-days at either end from the rows
-- (gateway.readmodels.counts.split_period): these find those rows without a scan.
CREATE INDEX IF NOT EXISTS answer_contributions_occurred ON answer_contributions (occurred_at);
CREATE INDEX IF NOT EXISTS point_contributions_occurred ON point_contributions (occurred_at);
CREATE INDEX IF NOT EXISTS reach_contributions_occurred ON reach_contributions (occurred_at);
