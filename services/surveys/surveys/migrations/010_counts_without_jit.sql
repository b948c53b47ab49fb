-- Counting without JIT (issue 15). The counting statements of result_counts (007) and
-- equality_result_counts (009) expand JSON with set-returning functions, which the
-- planner guesses at 100 rows each, so even a batch of a few rows is costed far above
-- jit_above_cost and PostgreSQL compiled the statement to machine code every time:
-- EXPLAIN ANALYZE of the equality count of 22,500 rows spent 1,095 ms of 3,662 in JIT
-- (optimisation 571 ms, emission 484 ms), for a plan it runs once. The trigger functions
-- now run with JIT off, and with room to sort the rows they count in memory (the same
-- statement sorted 14 MB on disk with the default 4 MB work_mem).
ALTER FUNCTION count_results() SET jit = off;
ALTER FUNCTION count_results() SET work_mem = '32MB';
ALTER FUNCTION count_equality_results() SET jit = off;
ALTER FUNCTION count_equality_results() SET work_mem = '32MB';
ALTER FUNCTION recount_equality_results() SET jit = off;
ALTER FUNCTION recount_equality_results() SET work_mem = '32MB';
ALTER FUNCTION uncount_equality_results() SET jit = off;
